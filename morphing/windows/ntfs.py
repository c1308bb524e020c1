"""Whether an NTFS volume is safe to write offline: its dirty flag, read from the $Volume record.

Windows sets the flag while a volume is mounted and clears it on a clean shutdown; a volume still
marked dirty (a crash, a forced power-off of the source) has metadata Windows has not finished
writing, so changing it offline risks corrupting it. The bytes come from the appliance
(``pread_device``); the parsing is bounded and checked, and anything unexpected reads as "not
known to be clean".
"""

from __future__ import annotations

import struct
from collections.abc import Callable

VOLUME_RECORD = 3  # $Volume's MFT record number
VOLUME_INFORMATION = 0x70
DIRTY = 0x0001
SECTOR = 512
Reader = Callable[[int, int], bytes]  # (size, offset) -> bytes


class NtfsError(ValueError):
    """The volume's structures are not what NTFS has."""


def _geometry(boot: bytes, mirror: bool = False) -> tuple[int, int]:
    """(byte offset of $Volume's record in $MFT, or in $MFTMirr, and the record size) from the boot sector."""
    if len(boot) < 0x48 or boot[3:11] != b"NTFS    ":
        raise NtfsError("not an NTFS boot sector")
    (bytes_per_sector,) = struct.unpack_from("<H", boot, 0x0B)
    spc = boot[0x0D]
    sectors_per_cluster = 1 << (256 - spc) if spc > 0x80 else spc
    (mft_lcn,) = struct.unpack_from("<Q", boot, 0x38 if mirror else 0x30)
    (per_record,) = struct.unpack_from("<b", boot, 0x40)
    if bytes_per_sector not in (512, 1024, 2048, 4096) or sectors_per_cluster == 0:
        raise NtfsError("impossible NTFS geometry")
    cluster = bytes_per_sector * sectors_per_cluster
    record = 1 << -per_record if per_record < 0 else per_record * cluster
    if record not in (1024, 2048, 4096):
        raise NtfsError(f"impossible MFT record size {record}")
    return mft_lcn * cluster + VOLUME_RECORD * record, record


def _fixups(record: bytearray) -> tuple[int, int]:
    """Undo the update sequence in place; returns (array offset, count)."""
    if record[:4] != b"FILE":
        raise NtfsError("$Volume's MFT record has no FILE signature")
    usa_offset, usa_count = struct.unpack_from("<HH", record, 4)
    if usa_count < 2 or usa_offset + 2 * usa_count > len(record) or (usa_count - 1) * SECTOR > len(record):
        raise NtfsError("bad update sequence array")
    usn = record[usa_offset : usa_offset + 2]
    for i in range(1, usa_count):
        end = i * SECTOR - 2
        if record[end : end + 2] != usn:
            raise NtfsError("torn MFT record (update sequence mismatch)")
        record[end : end + 2] = record[usa_offset + 2 * i : usa_offset + 2 * i + 2]
    return usa_offset, usa_count


def _flags_offset(record: bytes) -> int:
    """Offset of VOLUME_INFORMATION's flags in the (fixed-up) record."""
    (offset,) = struct.unpack_from("<H", record, 0x14)
    for _ in range(64):
        if offset + 16 > len(record):
            break
        kind, length = struct.unpack_from("<II", record, offset)
        if kind == 0xFFFFFFFF or length < 16 or offset + length > len(record):
            break
        if kind == VOLUME_INFORMATION and record[offset + 8] == 0:  # resident
            value_length, value_offset = struct.unpack_from("<IH", record, offset + 0x10)
            if value_length >= 12 and offset + value_offset + 12 <= offset + length:
                return offset + value_offset + 10
            break
        offset += length
    raise NtfsError("$Volume has no VOLUME_INFORMATION attribute")


def is_dirty(read: Reader) -> bool:
    """Whether the volume is marked dirty (raises ``NtfsError`` when it cannot be told)."""
    where, size = _geometry(read(SECTOR, 0))
    record = bytearray(read(size, where))
    _fixups(record)
    (flags,) = struct.unpack_from("<H", record, _flags_offset(record))
    return bool(flags & DIRTY)


def set_dirty(read: Reader, write: Callable[[bytes, int], None], dirty: bool = True) -> None:
    """Set or clear the dirty flag (what Windows does at mount and clean shutdown; tests use it).

    Both copies of the record change: $MFT's and $MFTMirr's (which holds the first four records).
    """
    boot = read(SECTOR, 0)
    for mirror in (False, True):
        _set_flag(read, write, *_geometry(boot, mirror), dirty)


def _set_flag(read: Reader, write: Callable[[bytes, int], None], where: int, size: int, dirty: bool) -> None:
    record = bytearray(read(size, where))
    usa_offset, usa_count = _fixups(record)
    at = _flags_offset(record)
    (flags,) = struct.unpack_from("<H", record, at)
    struct.pack_into("<H", record, at, (flags | DIRTY) if dirty else (flags & ~DIRTY))
    usn = record[usa_offset : usa_offset + 2]
    for i in range(1, usa_count):
        end = i * SECTOR - 2
        record[usa_offset + 2 * i : usa_offset + 2 * i + 2] = record[end : end + 2]
        record[end : end + 2] = usn
    write(bytes(record), where)
