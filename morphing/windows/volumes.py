"""Windows volumes that must not be written offline: BitLocker, hibernated (or Fast Startup), dirty.

Asked of the appliance before anything is mounted for writing: ntfs-3g's probe tells a hibernated
volume (whose state lives in hiberfil.sys and would be lost), ``morphing.windows.ntfs`` a volume
Windows did not close cleanly, and the filesystem type a BitLocker one (which the appliance cannot
read at all). Each is a clear refusal that names what to do on the source.
"""

from __future__ import annotations

import contextlib
from typing import Any

from morphing.errors import MorphError
from morphing.windows import ntfs

# ntfs-3g's volume states (ntfs_3g_probe's answers)
NTFS_OK, NTFS_NOT_NTFS, NTFS_CORRUPT, NTFS_HIBERNATED, NTFS_UNCLEAN = 0, 12, 13, 14, 15


def bitlocker_volumes(g: Any) -> list[str]:
    """Partitions (or whole disks) that hold a BitLocker volume."""
    found = []
    for device in [*g.list_partitions(), *g.list_devices()]:
        with contextlib.suppress(RuntimeError):
            if g.vfs_type(device) == "BitLocker":
                found.append(device)
    return found


def refuse_bitlocker(g: Any) -> None:
    """Raise when the guest has BitLocker volumes (called when inspection found no OS)."""
    found = bitlocker_volumes(g)
    if found:
        raise MorphError(
            f"BitLocker-encrypted volume on {', '.join(found)}: the guest cannot be converted offline; "
            "suspend or decrypt BitLocker on the source (manage-bde -off C:) and migrate again"
        )


def check_writable(g: Any, device: str) -> None:
    """Raise unless the NTFS on ``device`` can be changed offline safely (other types pass).

    Raises:
        MorphError: hibernated or Fast Startup, marked dirty, or inconsistent.
    """
    try:
        if g.vfs_type(device) != "ntfs":
            return
    except RuntimeError:
        return
    state = g.ntfs_3g_probe(True, device)
    if state == NTFS_HIBERNATED:
        raise MorphError(
            f"the Windows volume on {device} is hibernated (or was shut down with Fast Startup): changing it "
            "offline would lose the hibernated state; shut the source down fully (shutdown /s /t 0, or turn "
            "Fast Startup off) and migrate again"
        )
    try:
        dirty = ntfs.is_dirty(lambda size, offset: g.pread_device(device, size, offset))
    except ntfs.NtfsError as exc:
        raise MorphError(f"the NTFS volume on {device} is inconsistent ({exc}); run chkdsk /f on the source") from exc
    if dirty or state == NTFS_UNCLEAN:
        raise MorphError(
            f"the NTFS volume on {device} is marked dirty (Windows did not close it cleanly): run chkdsk /f "
            "on the source, shut it down cleanly and migrate again"
        )
    if state == NTFS_CORRUPT:
        raise MorphError(f"the NTFS volume on {device} is inconsistent ($MFT and its mirror differ); run chkdsk /f")
