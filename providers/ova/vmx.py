"""Parse a VMware .vmx file (key = "value" lines) into a VmInfo and its disk descriptors."""

from __future__ import annotations

import re
from pathlib import Path

from providers.ova.ovf import guess_os_type
from providers.types import ControllerInfo, DiskInfo, Firmware, NicInfo, ProviderError, VmInfo

MAX_VMX_BYTES = 1 << 20
_LINE = re.compile(r'^\s*([A-Za-z0-9_.:\-\[\]]+)\s*=\s*"(.*)"\s*$')
_DISK_KEY = re.compile(r"^(scsi|sata|ide|nvme)(\d+):(\d+)\.filename$")
_CDROM_TYPES = ("cdrom-image", "atapi-cdrom", "cdrom-raw")
SCSI_TYPES = {"lsilogic": "lsilogic", "lsisas1068": "lsilogicsas", "pvscsi": "pvscsi", "buslogic": "buslogic"}


def parse_vmx(text: str) -> dict[str, str]:
    """Key/values of a .vmx, keys lowercased, ``|XX`` escapes decoded; bad lines are skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            value = re.sub(r"\|([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), match.group(2))
            out[match.group(1).lower()] = value
    return out


def read_vmx(path: Path) -> dict[str, str]:
    """Read and parse a .vmx file."""
    if path.stat().st_size > MAX_VMX_BYTES:
        raise ProviderError(f"{path.name} is larger than {MAX_VMX_BYTES} bytes; not a .vmx")
    return parse_vmx(path.read_text(encoding="utf-8", errors="replace"))


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def controllers(vmx: dict[str, str]) -> list[ControllerInfo]:
    """Controllers that are present (IDE always exists on VMware's virtual hardware)."""
    found: list[ControllerInfo] = []
    for bus in ("scsi", "sata", "nvme", "ide"):
        for n in range(4):
            key = f"{bus}{n}"
            used = any(k.startswith(f"{key}:") for k in vmx)
            if not (_true(vmx.get(f"{key}.present")) or (bus == "ide" and used)):
                continue
            if bus == "scsi":
                dev = vmx.get(f"{key}.virtualdev", "lsilogic").lower()
                found.append(ControllerInfo(id=key, type=SCSI_TYPES.get(dev, dev), bus_number=n))
            else:
                found.append(ControllerInfo(id=key, type=bus, bus_number=n))
    return found


def disk_files(vmx: dict[str, str]) -> list[tuple[str, str, int]]:
    """(controller id, descriptor file name, unit number) of each present hard disk."""
    out: list[tuple[str, str, int]] = []
    for key, value in vmx.items():
        match = _DISK_KEY.match(key)
        if not match:
            continue
        prefix = key.removesuffix(".filename")
        if vmx.get(f"{prefix}.present", "true").lower() == "false":
            continue
        if vmx.get(f"{prefix}.devicetype", "").lower() in _CDROM_TYPES or not value.lower().endswith(".vmdk"):
            continue
        out.append((f"{match.group(1)}{match.group(2)}", value, int(match.group(3))))
    return sorted(out, key=lambda d: (d[0], d[2]))


def nics(vmx: dict[str, str]) -> list[NicInfo]:
    """Present ethernet adapters, with their MAC and network name."""
    out: list[NicInfo] = []
    for n in range(10):
        key = f"ethernet{n}"
        if not _true(vmx.get(f"{key}.present")):
            continue
        static = vmx.get(f"{key}.addresstype", "").lower() == "static"
        mac = vmx.get(f"{key}.address") if static else None
        mac = mac or vmx.get(f"{key}.generatedaddress") or vmx.get(f"{key}.address") or ""
        out.append(NicInfo(
            mac_address=mac.lower(),
            network_name=vmx.get(f"{key}.networkname") or vmx.get(f"{key}.vnet") or "",
            id=key, name=key, model=vmx.get(f"{key}.virtualdev", "e1000").lower(),
        ))
    return out


def vm_info(vmx: dict[str, str], instance_id: str, default_name: str, disks: list[DiskInfo]) -> VmInfo:
    """The VmInfo of a parsed .vmx, with the disks the caller measured."""
    guest = vmx.get("guestos")
    return VmInfo(
        id=instance_id,
        name=vmx.get("displayname") or default_name,
        num_cpu=_int(vmx.get("numvcpus"), 1),
        memory_mb=_int(vmx.get("memsize"), 512),
        firmware_type=Firmware.EFI if vmx.get("firmware", "").lower() == "efi" else Firmware.BIOS,
        guest_id=guest,
        os_type=guess_os_type(guest),
        disks=tuple(disks),
        controllers=tuple(controllers(vmx)),
        nics=tuple(nics(vmx)),
    )


def disk_id(controller_id: str, unit: int) -> str:
    """A stable, file-name-safe disk id (``scsi0-1``)."""
    return f"{controller_id}-{unit}"


def disk_info(controller_id: str, file_name: str, unit: int, size: int) -> DiskInfo:
    return DiskInfo(
        id=disk_id(controller_id, unit), size_bytes=size, format="vmdk", path=file_name,
        controller_id=controller_id, unit_number=unit,
    )
