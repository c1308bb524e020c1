"""Parse an OVF descriptor (OVF 1.x/2.x, VMware flavour) into a VmInfo and its disk files."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import defusedxml
from defusedxml.ElementTree import fromstring

from providers.types import ControllerInfo, DiskInfo, Firmware, NicInfo, OsType, ProviderError, VmInfo

MIB = 1 << 20
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# CIM_ResourceAllocationSettingData ResourceType values we read.
RT_CPU, RT_MEMORY, RT_IDE, RT_SCSI = "3", "4", "5", "6"
RT_ETHERNET, RT_DISK, RT_OTHER_STORAGE = "10", "17", "20"

SCSI_TYPES = {"lsilogic": "lsilogic", "lsilogicsas": "lsilogicsas", "virtualscsi": "pvscsi",
              "buslogic": "buslogic"}
NIC_MODELS = {"vmxnet3": "vmxnet3", "vmxnet2": "vmxnet2", "vmxnet": "vmxnet", "e1000": "e1000",
              "e1000e": "e1000e", "pcnet32": "pcnet32"}
_LINUX_WORDS = ("linux", "debian", "ubuntu", "rhel", "centos", "redhat", "red hat", "sles", "suse",
                "fedora", "oracle", "rocky", "alma", "photon", "coreos", "mandriva", "asianux")
_UNIT_WORDS = {"byte": 1, "bytes": 1, "kilobytes": 1 << 10, "megabytes": MIB, "gigabytes": 1 << 30}


@dataclass(frozen=True)
class OvfDisk:
    """A disk of the OVF and the file holding it."""

    disk_id: str
    href: str
    file_size: int | None
    capacity_bytes: int
    format_url: str


@dataclass(frozen=True)
class OvfDescriptor:
    """What an OVF says: the VM, its disks' files, every referenced file (href -> declared size)."""

    vm: VmInfo
    disks: tuple[OvfDisk, ...]
    files: dict[str, int | None]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: Element, name: str) -> str | None:
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value
    return None


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: Element, name: str) -> Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: Element, name: str) -> str | None:
    child = _child(el, name)
    return child.text.strip() if child is not None and child.text else None


def parse_units(text: str | None) -> int:
    """Bytes per unit for an OVF allocation-units string (``byte * 2^30``, ``MegaBytes``...)."""
    norm = (text or "byte").strip().lower()
    if norm in _UNIT_WORDS:
        return _UNIT_WORDS[norm]
    match = re.fullmatch(r"byte((?:\s*\*\s*\d{1,7}(?:\s*\^\s*\d{1,2})?)*)\s*", norm)
    if not match:
        raise ProviderError(f"unsupported allocation units {text!r}")
    factor = 1
    for base, exp in re.findall(r"\*\s*(\d+)(?:\s*\^\s*(\d+))?", match.group(1)):
        factor *= int(base) ** int(exp or 1)
    if factor > 1 << 50:
        raise ProviderError(f"allocation units {text!r} are out of range")
    return factor


def _int(value: str | None, what: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise ProviderError(f"{what} is not a number: {value!r}") from None


def guess_os_type(*hints: str | None) -> OsType:
    """linux/windows/unknown from guest ids and OS descriptions."""
    text = " ".join(h.lower() for h in hints if h)
    if re.search(r"\bwin", text):  # windows*, winNetStandard, winXPPro... but not darwin
        return OsType.WINDOWS
    if any(w in text for w in _LINUX_WORDS):
        return OsType.LINUX
    return OsType.UNKNOWN


def load_xml(data: bytes) -> Element:
    """Parse XML refusing DTDs, entity declarations and external references."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ProviderError(f"the OVF descriptor uses forbidden XML features ({exc})") from exc
    except ET.ParseError as exc:
        raise ProviderError(f"the OVF descriptor is not well-formed XML: {exc}") from exc


def _references(envelope: Element) -> dict[str, tuple[str, int | None]]:
    files: dict[str, tuple[str, int | None]] = {}
    refs = _child(envelope, "References")
    for f in _children(refs, "File") if refs is not None else []:
        file_id, href = _attr(f, "id"), _attr(f, "href")
        if not file_id or not href:
            raise ProviderError("a File in the OVF References has no id or href")
        if "/" in href or "\\" in href or href in (".", "..") or ":" in href:
            raise ProviderError(f"OVF file reference {href!r} is not a plain file name in the archive")
        if _attr(f, "compression") or _attr(f, "chunkSize"):
            raise ProviderError(f"OVF file {href!r} is compressed or chunked; that is not supported")
        size = _attr(f, "size")
        files[file_id] = (href, _int(size, f"size of {href}") if size is not None else None)
    return files


def _disks(envelope: Element, files: dict[str, tuple[str, int | None]]) -> dict[str, OvfDisk]:
    section = _child(envelope, "DiskSection")
    disks: dict[str, OvfDisk] = {}
    for d in _children(section, "Disk") if section is not None else []:
        disk_id = _attr(d, "diskId") or ""
        if not _SAFE_ID.match(disk_id):
            raise ProviderError(f"OVF disk id {disk_id!r} is not a plain identifier")
        file_ref = _attr(d, "fileRef")
        if not file_ref:
            raise ProviderError(f"OVF disk {disk_id} has no file (blank disks are not supported)")
        if file_ref not in files:
            raise ProviderError(f"OVF disk {disk_id} refers to file id {file_ref!r}, absent from References")
        href, size = files[file_ref]
        capacity = _int(_attr(d, "capacity"), f"capacity of disk {disk_id}")
        capacity *= parse_units(_attr(d, "capacityAllocationUnits"))
        if capacity <= 0:
            raise ProviderError(f"OVF disk {disk_id} has capacity {capacity}")
        disks[disk_id] = OvfDisk(disk_id, href, size, capacity, _attr(d, "format") or "")
    return disks


def _config(hardware: Element) -> dict[str, str]:
    """vmw:Config / vmw:ExtraConfig key-values of the hardware section itself."""
    out: dict[str, str] = {}
    for el in hardware:
        if _local(el.tag) in ("Config", "ExtraConfig"):
            key, value = _attr(el, "key"), _attr(el, "value")
            if key is not None and value is not None:
                out[key.lower()] = value
    return out


def _controller_type(rtype: str, subtype: str) -> str | None:
    sub = subtype.lower()
    if rtype == RT_IDE:
        return "ide"
    if rtype == RT_SCSI:
        return SCSI_TYPES.get(sub, sub or "lsilogic")
    if rtype == RT_OTHER_STORAGE:
        if "sata" in sub or "ahci" in sub:
            return "sata"
        if "nvme" in sub:
            return "nvme"
    return None


def parse_ovf(data: bytes, instance_id: str) -> OvfDescriptor:
    """Read an OVF descriptor.

    Args:
        data: the descriptor's bytes (untrusted).
        instance_id: the id to give the VM (the OVA's name in the provider's directory).

    Raises:
        ProviderError: unsafe XML, a multi-VM or malformed descriptor.
    """
    envelope = load_xml(data)
    if _local(envelope.tag) != "Envelope":
        raise ProviderError("the OVF descriptor has no Envelope root")
    if _child(envelope, "VirtualSystemCollection") is not None:
        raise ProviderError("OVF with several virtual systems (VirtualSystemCollection) is not supported")
    system = _child(envelope, "VirtualSystem")
    if system is None:
        raise ProviderError("the OVF descriptor has no VirtualSystem")
    files = _references(envelope)
    disks = _disks(envelope, files)
    hardware = _child(system, "VirtualHardwareSection")
    if hardware is None:
        raise ProviderError("the OVF VirtualSystem has no VirtualHardwareSection")
    config = _config(hardware)

    num_cpu, memory_mb = 1, 512
    controllers: list[ControllerInfo] = []
    disk_infos: list[DiskInfo] = []
    nics: list[NicInfo] = []
    for item in hardware:
        if _local(item.tag) not in ("Item", "StorageItem", "EthernetPortItem"):
            continue
        rtype = _text(item, "ResourceType") or ""
        instance = _text(item, "InstanceID") or ""
        subtype = _text(item, "ResourceSubType") or ""
        if rtype == RT_CPU:
            num_cpu = _int(_text(item, "VirtualQuantity"), "CPU count")
        elif rtype == RT_MEMORY:
            units = parse_units(_text(item, "AllocationUnits") or "byte * 2^20")
            memory_mb = _int(_text(item, "VirtualQuantity"), "memory size") * units // MIB
        elif (ctype := _controller_type(rtype, subtype)) is not None:
            address = _text(item, "Address") or ""
            controllers.append(ControllerInfo(id=instance, type=ctype,
                                              bus_number=int(address) if address.isdigit() else None))
        elif rtype == RT_DISK:
            host = _text(item, "HostResource") or ""
            disk_id = host.rsplit("/", 1)[-1]
            if "/disk/" not in host or disk_id not in disks:
                raise ProviderError(f"OVF disk item {instance} refers to unknown disk {host!r}")
            d = disks[disk_id]
            unit = _text(item, "AddressOnParent") or ""
            disk_infos.append(DiskInfo(
                id=disk_id, size_bytes=d.capacity_bytes, format="vmdk", path=d.href,
                controller_id=_text(item, "Parent"), unit_number=int(unit) if unit.isdigit() else None,
            ))
        elif rtype == RT_ETHERNET:
            index = len(nics)
            mac = (_text(item, "Address") or config.get(f"ethernet{index}.address")
                   or config.get(f"ethernet{index}.generatedaddress") or "")
            nics.append(NicInfo(
                mac_address=mac.lower(), network_name=_text(item, "Connection") or "",
                id=instance or None, name=_text(item, "ElementName"),
                model=NIC_MODELS.get(subtype.lower(), subtype.lower() or None),
            ))
    attached = {d.id for d in disk_infos}
    disk_infos += [
        DiskInfo(id=d.disk_id, size_bytes=d.capacity_bytes, format="vmdk", path=d.href)
        for d in disks.values() if d.disk_id not in attached
    ]

    os_section = _child(system, "OperatingSystemSection")
    guest_id = _attr(os_section, "osType") if os_section is not None else None
    description = _text(os_section, "Description") if os_section is not None else None
    name = _text(system, "Name") or _attr(system, "id") or instance_id
    firmware = Firmware.EFI if config.get("firmware", "").lower() == "efi" else Firmware.BIOS
    vm = VmInfo(
        id=instance_id, name=name, num_cpu=num_cpu, memory_mb=memory_mb,
        os_type=guess_os_type(guest_id, description), firmware_type=firmware,
        disks=tuple(disk_infos), nics=tuple(nics), controllers=tuple(controllers), guest_id=guest_id,
    )
    return OvfDescriptor(vm=vm, disks=tuple(disks.values()), files={h: s for h, s in files.values()})
