"""Fixed VHD: the raw disk followed by a 512-byte footer (Microsoft's VHD specification), as Azure imports it.

Azure wants a fixed VHD whose virtual size is a whole number of MiB. The creator application is
``win `` (what Hyper-V writes): readers such as qemu's ``vpc`` driver then take the size from the
footer's current size, not from the CHS geometry (which cannot express every size).
"""

from __future__ import annotations

import struct
import time
import uuid

FOOTER_SIZE = 512
MIB = 1 << 20
_VHD_EPOCH = 946684800  # 2000-01-01T00:00:00Z


def vhd_size(size_bytes: int) -> int:
    """The disk's size rounded up to a whole MiB (the virtual size Azure accepts)."""
    return max(MIB, -(-size_bytes // MIB) * MIB)


def geometry(size_bytes: int) -> tuple[int, int, int]:
    """Cylinders, heads, sectors per track for ``size_bytes`` (the specification's algorithm)."""
    total = min(size_bytes // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    return cth // heads, heads, spt


def _checksum(footer: bytes) -> int:
    return (~sum(footer)) & 0xFFFFFFFF


def footer(size_bytes: int, unique_id: uuid.UUID | None = None, timestamp: float | None = None) -> bytes:
    """The 512-byte footer of a fixed VHD whose data part is ``size_bytes`` (a multiple of 512)."""
    if size_bytes % 512:
        raise ValueError("a VHD's size is a whole number of sectors")
    cylinders, heads, spt = geometry(size_bytes)
    stamp = int((time.time() if timestamp is None else timestamp) - _VHD_EPOCH) & 0xFFFFFFFF
    fields = struct.pack(
        ">8sIIQI4sI4sQQHBBII16sB",
        b"conectix",           # cookie
        2,                     # features: reserved bit always set
        0x00010000,            # file format version
        0xFFFFFFFFFFFFFFFF,    # data offset: none for a fixed disk
        stamp,                 # seconds since 2000-01-01
        b"win ",               # creator application
        0x000A0000,            # creator version
        b"Wi2k",               # creator host OS
        size_bytes,            # original size
        size_bytes,            # current size
        cylinders, heads, spt,
        2,                     # disk type: fixed
        0,                     # checksum, computed below
        (unique_id or uuid.uuid4()).bytes,
        0,                     # saved state
    )
    raw = fields.ljust(FOOTER_SIZE, b"\0")
    return raw[:64] + struct.pack(">I", _checksum(raw)) + raw[68:]


def parse_footer(data: bytes) -> dict[str, int | bytes]:
    """The fields a footer holds; raises ``ValueError`` when its cookie, type or checksum is wrong."""
    if len(data) != FOOTER_SIZE or data[:8] != b"conectix":
        raise ValueError("not a VHD footer")
    (_cookie, _features, _version, _offset, _stamp, app, _cv, _os, original, current, cyl, heads, spt, disk_type,
     stored, uid, _saved) = struct.unpack(">8sIIQI4sI4sQQHBBII16sB", data[:85])
    if _checksum(data[:64] + b"\0\0\0\0" + data[68:]) != stored:
        raise ValueError("VHD footer checksum mismatch")
    return {"creator": app, "original_size": original, "current_size": current, "cylinders": cyl,
            "heads": heads, "sectors": spt, "disk_type": disk_type, "unique_id": uid}
