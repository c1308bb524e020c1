"""Virtual devices of a vSphere VM read through pyvmomi's classes: disks, NICs, controllers, port groups."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

CONTROLLER_TYPES: tuple[tuple[Any, str], ...] = (
    (vim.vm.device.ParaVirtualSCSIController, "pvscsi"),
    (vim.vm.device.VirtualLsiLogicSASController, "lsilogicsas"),
    (vim.vm.device.VirtualLsiLogicController, "lsilogic"),
    (vim.vm.device.VirtualBusLogicController, "buslogic"),
    (vim.vm.device.VirtualAHCIController, "sata"),
    (vim.vm.device.VirtualNVMEController, "nvme"),
    (vim.vm.device.VirtualIDEController, "ide"),
)
NIC_MODELS: tuple[tuple[Any, str], ...] = (
    (vim.vm.device.VirtualVmxnet3, "vmxnet3"),
    (vim.vm.device.VirtualE1000e, "e1000e"),
    (vim.vm.device.VirtualE1000, "e1000"),
    (vim.vm.device.VirtualPCNet32, "pcnet32"),
    (vim.vm.device.VirtualVmxnet, "vmxnet"),
)


def controller_slot(devices: Any, device_key: int) -> str | None:
    """Where a disk sits, as export leases name it: ``VirtualLsiLogicController0:1`` (class, bus, unit)."""
    by_key = {d.key: d for d in devices or ()}
    disk = by_key.get(device_key)
    controller = by_key.get(getattr(disk, "controllerKey", None)) if disk is not None else None
    if controller is None or disk.unitNumber is None:
        return None
    kind = getattr(type(controller), "_wsdlName", None) or type(controller).__name__.rsplit(".", 1)[-1]
    return f"{kind}{controller.busNumber}:{disk.unitNumber}"


def network_type(network: Any) -> str:
    """``DistributedVirtualPortgroup``, ``OpaqueNetwork`` or ``Network`` (a standard port group)."""
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        return "DistributedVirtualPortgroup"
    if isinstance(network, vim.OpaqueNetwork):
        return "OpaqueNetwork"
    return "Network"


def vlan_of(network: Any) -> int | str | None:
    """A port group's VLAN: an id (0: none), ``trunk`` for a VLAN trunk, ``pvlan``, or None when unknown."""
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        vlan = getattr(getattr(network.config, "defaultPortConfig", None), "vlan", None)
        if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec):
            return int(vlan.vlanId)
        if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.TrunkVlanSpec):
            return "trunk"
        if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.PvlanSpec):
            return "pvlan"
        return None
    if isinstance(network, vim.OpaqueNetwork):
        return None
    for host in (network.host or ())[:1]:
        net_config = getattr(host.config, "network", None) if host.config is not None else None
        for group in (getattr(net_config, "portgroup", None) or ()):
            if group.spec.name == network.name:
                return int(group.spec.vlanId)
    return None


def device_kind(device: Any) -> str:
    """``disk``, ``nic``, ``controller`` or ``other`` for a virtual device."""
    if isinstance(device, vim.vm.device.VirtualDisk):
        return "disk"
    if isinstance(device, vim.vm.device.VirtualEthernetCard):
        return "nic"
    if controller_type(device) is not None:
        return "controller"
    return "other"


def controller_type(device: Any) -> str | None:
    """The controller type name (``pvscsi``, ``ide``...), or None when ``device`` is no disk controller."""
    for cls, name in CONTROLLER_TYPES:
        if isinstance(device, cls):
            return name
    return None


def nic_model(device: Any) -> str:
    for cls, name in NIC_MODELS:
        if isinstance(device, cls):
            return name
    return type(device).__name__.rsplit(".", 1)[-1].lower()


def nic_network(device: Any, vm: Any) -> str:
    """The port group (standard or distributed) a NIC is connected to."""
    backing = device.backing
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        key = backing.port.portgroupKey
        for network in vm.network or ():
            if getattr(network, "key", None) == key:
                return network.name
        return key or ""
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        return backing.deviceName or (backing.network.name if backing.network else "")
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        return backing.opaqueNetworkId or ""
    return ""
