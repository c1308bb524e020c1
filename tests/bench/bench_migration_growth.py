"""The 10 GiB-virtual variant of the test guest (2 GiB more random data past its partition), built once and cached."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.guest import CACHE_ROOT, VM, Guest, build_hash, ensure_guest
from tests.fixtures.guest.ovf import build_ova

GIB = 1 << 30
MIB = 1 << 20
VIRTUAL_SIZE = 10 * GIB
EXTRA_DATA = 2 * GIB
PATTERN_SIZE = 64 * MIB
RECIPE = "bench-10g v1: cp --sparse, resize raw 10G, 2 GiB of rotated 64 MiB urandom after the partition"
OVA_NAME = "coriolis-fixture-10g.ova"


@dataclass(frozen=True)
class BigGuest:
    """The cached variant: its raw image, its OVA and how long the build took (0 when cached)."""

    raw: Path
    ova: Path
    build_seconds: float


def _partition_end(raw: Path) -> int:
    """Byte offset just after the last MBR partition of ``raw`` (read with sfdisk)."""
    out = subprocess.run(["sfdisk", "-d", str(raw)], check=True, capture_output=True, text=True).stdout
    end = 0
    for line in out.splitlines():
        if "start=" not in line:
            continue
        fields = dict(
            (k.strip(), v.strip()) for k, v in (f.split("=", 1) for f in line.split(":", 1)[1].split(",") if "=" in f)
        )
        end = max(end, (int(fields["start"]) + int(fields["size"])) * 512)
    return end


def _write_random(raw: Path, offset: int, length: int) -> None:
    """Write ``length`` bytes of incompressible data at ``offset``: 64 MiB of urandom, rotated per block."""
    with open("/dev/urandom", "rb") as rnd:
        pattern = rnd.read(PATTERN_SIZE)
    fd = os.open(raw, os.O_WRONLY)
    try:
        written = 0
        block = 0
        while written < length:
            shift = (block * 4099 * 512) % PATTERN_SIZE  # a different rotation for every block
            data = pattern[shift:] + pattern[:shift]
            data = data[: length - written]
            os.pwrite(fd, data, offset + written)
            written += len(data)
            block += 1
        os.fsync(fd)
    finally:
        os.close(fd)


def _cache_key(guest_hash: str) -> str:
    return hashlib.sha256(f"{guest_hash}\0{RECIPE}".encode()).hexdigest()[:16]


def ensure_big_guest(guest: Guest | None = None, cache_root: Path | None = None) -> BigGuest:
    """Return the cached 10 GiB variant of the test guest, building it (about 1-2 minutes) when missing.

    Cached under ``<cache root>/bench-10g/<guest build hash>/``; ``done`` holds the recipe key.
    """
    guest = guest or ensure_guest()
    root = (cache_root or CACHE_ROOT) / "bench-10g"
    final = root / build_hash()
    key = _cache_key(build_hash())
    done = final / "done"
    result = BigGuest(final / "guest-10g.raw", final / "guest-10g.ova", 0.0)
    if done.exists() and done.read_text().strip() == key:
        return result
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():  # one variant per guest build is enough: drop the others
        if old.is_dir() and old != final:
            shutil.rmtree(old, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        raw = work / "guest-10g.raw"
        print(f"bench: building the 10 GiB guest variant in {work}", file=sys.stderr, flush=True)
        subprocess.run(["cp", "--sparse=always", str(guest.raw), str(raw)], check=True)
        offset = _partition_end(raw)
        original = raw.stat().st_size
        if offset > original:
            raise RuntimeError(f"{raw}: partition ends at {offset}, past the image's end {original}")
        subprocess.run(["qemu-img", "resize", "-q", "-f", "raw", str(raw), str(VIRTUAL_SIZE)], check=True)
        _write_random(raw, offset, EXTRA_DATA)
        ova = build_ova(raw, work / OVA_NAME, VM)
        ova.rename(work / "guest-10g.ova")
        (work / "done").write_text(key + "\n")
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BigGuest(result.raw, result.ova, time.monotonic() - started)


def allocated_bytes(path: Path) -> int:
    """Bytes the filesystem actually holds for ``path`` (sparse files count their data only)."""
    return path.stat().st_blocks * 512


if __name__ == "__main__":
    big = ensure_big_guest()
    print(big, allocated_bytes(big.raw), allocated_bytes(big.ova))
