"""What a guest's old device names (/dev/sda1...) are now: filesystem UUIDs and types."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class BlockId:
    """What ``blkid`` says about a partition or volume."""

    uuid: str | None = None
    fstype: str | None = None
    label: str | None = None


DeviceMap = dict[str, BlockId]
"""Old device path (``/dev/sda1``) to what is on it."""

# Names a source hypervisor may have given disk n: IDE, SCSI/SATA, virtio, Xen.
_PREFIXES = ("sd", "hd", "vd", "xvd")
LEGACY_DEVICE = re.compile(r"/dev/(?:sd|hd|vd|xvd)[a-z]+[0-9]*")


def disk_letters(index: int) -> str:
    """The letters of disk ``index`` (0 → a, 25 → z, 26 → aa), as the kernel names them."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = string.ascii_lowercase[rem] + letters
    return letters


def legacy_names(disk_index: int, partition: int | None) -> list[str]:
    """Every device path a source guest may have used for this disk or partition."""
    suffix = disk_letters(disk_index) + (str(partition) if partition else "")
    return [f"/dev/{prefix}{suffix}" for prefix in _PREFIXES]


# Names that vanish on a new hypervisor: the kernel's sdX/hdX/vdX/xvdX, the by-id names built from
# the source's disk serials or WWNs (VMware's "scsi-36000c29...", "wwn-0x6000c29...",
# "ata-VMware_Virtual_SATA_Hard_Drive_..."), and by-path names built from the source's PCI and SCSI
# addresses. UUID=, LABEL=, /dev/mapper/* and LVM names survive and are left alone.
VANISHING_DEVICE = re.compile(
    r"/dev/(?:(?:sd|hd|vd|xvd)[a-z]+[0-9]*"
    r"|disk/by-id/(?:scsi-|wwn-|[^\s\"',/]*VMware)[^\s\"',/]*"
    r"|disk/by-path/[^\s\"',/]+)"
)
_PART_SUFFIX = re.compile(r"-part([0-9]+)$")
_SCSI_TARGET = re.compile(r"-scsi-[0-9]+:[0-9]+:([0-9]+):[0-9]+")
_KERNEL_NAME = re.compile(r"/dev/sd([a-z]+)([0-9]*)")


def resolve(device: str, devices: DeviceMap, fstype: str | None = None) -> BlockId | None:
    """What is now on a vanishing device name, or None when that cannot be told for sure.

    ``/dev/sdXN`` names are looked up directly. A by-id or by-path name carries the partition
    number (``-partN``) but names the disk by a serial or address the migrated disks no longer
    have: it resolves to the one partition with that number (and filesystem type, when
    ``fstype`` is given) on the migrated disks, preferring the disk at the by-path SCSI target.

    Args:
        device: the name the guest uses.
        devices: old device path → what is on it now.
        fstype: the filesystem type the guest expects there (fstab's third column), if known.
    """
    block = devices.get(device)
    if block is not None or not device.startswith("/dev/disk/"):
        return block
    part = _PART_SUFFIX.search(device)
    number = part.group(1) if part else ""
    wanted = None if fstype in (None, "", "auto", "none") else fstype
    candidates: dict[str, BlockId] = {}
    for name, found in devices.items():
        match = _KERNEL_NAME.fullmatch(name)
        if match is None or match.group(2) != number:
            continue
        if wanted is not None and found.fstype is not None and found.fstype != wanted:
            continue
        candidates[match.group(1)] = found
    target = _SCSI_TARGET.search(device)
    if target is not None and disk_letters(int(target.group(1))) in candidates:
        return candidates[disk_letters(int(target.group(1)))]
    unique = set(candidates.values())
    return unique.pop() if len(unique) == 1 else None


def stable_name(block: BlockId | None) -> str | None:
    """``UUID=...`` (or ``LABEL=...`` for a filesystem without a UUID) naming a block for good."""
    if block is None:
        return None
    if block.uuid:
        return f"UUID={block.uuid}"
    if block.label:
        return f"LABEL={block.label}"
    return None
