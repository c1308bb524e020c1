"""The transfer benchmark's references (``bench_transfer.py``): the bare sync, the stage's pieces timed alone, and
the check that the service's and the bare replicas match the source."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from conversion import checksum, convert
from conversion import sync as replica_sync
from tests.bench import transfer_disk as td
from tests.bench.transfer_disk import Space


def run_bare(disk: td.SourceDisk, replica_dir: Path, cold: bool) -> dict[str, Any]:
    """``conversion.sync.sync`` of the flat extent (the guest's raw bytes) into ``replica_dir``, timed."""
    if cold:
        td.drop_cache([disk.flat, replica_dir])
    io_before = td.read_io("self")
    start = time.perf_counter()
    stats = replica_sync.sync(disk.flat, replica_dir, "d")
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "stats": stats.to_dict(), "io": td.io_delta(io_before, td.read_io("self"))}


def time_pieces(disk: td.SourceDisk, scratch: Path, cold: bool, space: Space) -> dict[str, Any]:
    """What the stage does around the sync, alone: qemu-img convert of the VMDK to raw, then its checksum."""
    if cold:
        td.drop_cache([disk.flat])
    raw = scratch / "convert-alone.raw"
    io_before = td.read_io("self")
    start = time.perf_counter()
    convert(disk.descriptor, "vmdk", raw, "raw")
    convert_s = time.perf_counter() - start
    io = td.io_delta(io_before, td.read_io("self"))
    space.sample()
    start = time.perf_counter()
    checksum(raw, "raw")
    checksum_s = time.perf_counter() - start
    start = time.perf_counter()
    raw.unlink()  # as the stage drops its staging raw: its pages are still in the cache, many still dirty
    unlink_s = time.perf_counter() - start
    return {"convert_s": round(convert_s, 3), "checksum_s": round(checksum_s, 3), "unlink_s": round(unlink_s, 3),
            "hash_in_memory_s": round(hash_cost(disk), 3), "convert_io": io}


def hash_cost(disk: td.SourceDisk, sample: int = 256 << 20) -> float:
    """Seconds the sync's per-chunk work (zero test + sha256) takes on the disk's data, from an in-memory sample."""
    data = os.urandom(sample)
    view = memoryview(data)
    start = time.perf_counter()
    for at in range(0, sample, td.CHUNK):
        chunk = bytes(view[at:at + td.CHUNK])
        if chunk.strip(b"\0"):
            hashlib.sha256(chunk).digest()
    return (time.perf_counter() - start) * (disk.flat.stat().st_blocks * 512) / sample


def verify(label: str, disk: td.SourceDisk, service: dict[str, Any], bare_dir: Path) -> str:
    """The service's replica, its recorded checksum and the bare replica all equal the source's content."""
    source = checksum(disk.flat, "raw")
    got = {"service replica": checksum(Path(service["result"]["path"]), "raw"),
           "service recorded": service["result"]["checksum"],
           "bare replica": checksum(bare_dir / "d.raw", "raw")}
    wrong = [name for name, digest in got.items() if digest != source]
    if wrong:
        raise RuntimeError(f"{label}: {', '.join(wrong)} differ from the source's checksum {source}")
    return f"{label}: service and bare replicas match the source ({source[:16]})"
