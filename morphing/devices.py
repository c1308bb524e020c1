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
