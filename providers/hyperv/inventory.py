"""Hyper-V inventory objects (our script projection) turned into ``VmInfo``: firmware, disks, NICs, services."""

from __future__ import annotations

from typing import Any

from providers.hyperv.powershell import as_list
from providers.types import ControllerInfo, DiskInfo, Firmware, NicInfo, OsType, VmInfo

# Get-VHD's VhdFormat -> our (and conversion/'s) format names.
VHD_FORMATS = {"VHDX": "vhdx", "VHD": "vhd"}
# Get-VHD's VhdType (Fixed, Dynamic, Differencing) and SCVMM's VHDType names -> allocation types.
VHD_TYPES = {
    "fixed": "fixed", "fixedsize": "fixed",
    "dynamic": "dynamic", "dynamicallyexpanding": "dynamic",
    "differencing": "differencing",
}
PASSTHROUGH = "passthrough"


def firmware_of(generation: int | None) -> Firmware:
    """Generation 1 VMs boot BIOS, generation 2 VMs UEFI (with or without Secure Boot)."""
    return Firmware.EFI if generation == 2 else Firmware.BIOS


def secure_boot_of(generation: int | None, secure_boot: Any) -> bool:
    """Whether a generation 2 VM boots with Secure Boot (Get-VMFirmware's ``On``/``Off``, or a boolean)."""
    if generation != 2:
        return False
    if isinstance(secure_boot, bool):
        return secure_boot
    return str(secure_boot or "").strip().lower() in ("on", "true", "1")


def mac_of(text: str | None) -> str:
    """``00155D0A0B0C`` or ``00-15-5D-...`` as ``00:15:5d:0a:0b:0c``."""
    digits = "".join(c for c in (text or "") if c.isalnum()).lower()
    if len(digits) != 12:
        return (text or "").lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def disk_id(drive: dict[str, Any]) -> str:
    """A disk's id: its controller slot (``SCSI-0-1``), the same in the VM and in its checkpoints."""
    return f"{drive.get('ControllerType') or 'Disk'}-{drive.get('ControllerNumber') or 0}-" \
           f"{drive.get('ControllerLocation') or 0}"


def _disk(drive: dict[str, Any]) -> DiskInfo:
    passthrough = drive.get("DiskNumber") is not None
    vhd_type = str(drive.get("VhdType") or "").replace(" ", "").lower()
    return DiskInfo(
        id=disk_id(drive),
        size_bytes=int(drive.get("Size") or 0),
        format=None if passthrough else VHD_FORMATS.get(str(drive.get("VhdFormat") or "").upper()),
        path=None if passthrough else drive.get("Path"),
        controller_id=f"{drive.get('ControllerType')}-{drive.get('ControllerNumber') or 0}",
        unit_number=drive.get("ControllerLocation"),
        allocation_type=PASSTHROUGH if passthrough else VHD_TYPES.get(vhd_type, vhd_type or None),
        storage_backend_identifier=drive.get("ParentPath") or None,
    )


def _nic(adapter: dict[str, Any]) -> NicInfo:
    vlan = adapter.get("VlanId")
    return NicInfo(
        mac_address=mac_of(adapter.get("MacAddress")),
        network_name=adapter.get("SwitchName") or "",
        id=adapter.get("Id") or None,
        name=adapter.get("Name") or None,
        model="hyperv-legacy" if adapter.get("IsLegacy") else "hyperv-synthetic",
        ip_addresses=tuple(str(a) for a in as_list(adapter.get("IPAddresses"))),
        vlan_id=int(vlan) if vlan else None,
    )


def describe(obj: dict[str, Any]) -> VmInfo:
    """A VM of our projection (``scripts.DESCRIBE_VM``, or scvmm's) as a ``VmInfo``."""
    generation = int(obj.get("Generation") or 1)
    drives = [d for d in as_list(obj.get("HardDrives")) if isinstance(d, dict)]
    controllers = {f"{d.get('ControllerType')}-{d.get('ControllerNumber') or 0}": str(d.get("ControllerType") or "")
                   for d in drives}
    services = [s for s in as_list(obj.get("IntegrationServices")) if isinstance(s, dict)]
    return VmInfo(
        id=str(obj["Id"]),
        name=str(obj.get("Name") or obj["Id"]),
        num_cpu=int(obj.get("ProcessorCount") or 1),
        memory_mb=int(obj.get("MemoryStartup") or 0) // (1 << 20) or 512,
        os_type=OsType.UNKNOWN,
        firmware_type=firmware_of(generation),
        secure_boot=secure_boot_of(generation, obj.get("SecureBoot")),
        disks=tuple(_disk(d) for d in drives),
        nics=tuple(_nic(n) for n in as_list(obj.get("NetworkAdapters")) if isinstance(n, dict)),
        controllers=tuple(ControllerInfo(id=k, type=v.lower()) for k, v in sorted(controllers.items())),
        guest_id=f"hyperv-generation-{generation}",
        power_state=str(obj.get("State") or "").lower() or None,
        guest_services=tuple(sorted(str(s.get("Name")) for s in services if s.get("Enabled"))),
    )


def drive_paths(drives: list[dict[str, Any]]) -> dict[str, str]:
    """Disk id -> file path, from the drives a checkpoint holds."""
    return {disk_id(d): str(d["Path"]) for d in drives if d.get("Path")}
