"""Tests for conversion.checksum: the documented algorithm, format independence, speed on holes."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

from conversion import checksum, convert
from conversion.checksum import CHUNK_SIZE

MIB = 1 << 20


def reference_digest(raw: Path, chunk_size: int = CHUNK_SIZE) -> str:
    """The algorithm from the docstring, reading every byte of a raw file.

    qemu shows a raw file rounded up to whole 512 B sectors, so the guest sees zeros there.
    """
    size = -(-raw.stat().st_size // 512) * 512
    outer = hashlib.sha256(b"coriolis:sha256-chunked:v1\0" + struct.pack("<QI", size, chunk_size))
    with open(raw, "rb") as f:
        for offset in range(0, size, chunk_size):
            chunk = f.read(chunk_size)
            chunk += bytes(min(chunk_size, size - offset) - len(chunk))
            outer.update(hashlib.sha256(chunk).digest())
    return outer.hexdigest()


def test_matches_the_documented_algorithm(small_raw: Path) -> None:
    assert checksum(small_raw, "raw") == reference_digest(small_raw)
    assert checksum(small_raw, "raw", chunk_size=64 * 1024) == reference_digest(small_raw, 64 * 1024)


def test_allocated_zeros_hash_like_holes(tmp_path: Path) -> None:
    holes = tmp_path / "holes.raw"
    zeros = tmp_path / "zeros.raw"
    with open(holes, "wb") as f:
        f.truncate(8 * MIB + 100)
    zeros.write_bytes(bytes(8 * MIB + 100))

    assert checksum(holes, "raw") == checksum(zeros, "raw") == reference_digest(zeros)


def test_different_content_gives_different_digest(small_raw: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed.raw"
    convert(small_raw, "raw", changed, "raw")
    with open(changed, "r+b") as f:
        f.seek(30 * MIB)
        f.write(b"\1")

    assert checksum(changed, "raw") != checksum(small_raw, "raw")


def test_large_sparse_image_is_fast(tmp_path: Path) -> None:
    big = tmp_path / "big.qcow2"
    raw = tmp_path / "src.raw"
    with open(raw, "wb") as f:
        f.truncate(64 << 30)
        f.seek(10 << 30)
        f.write(os.urandom(MIB))
    convert(raw, "raw", big, "qcow2")

    start = time.monotonic()
    digest = checksum(big, "qcow2")
    elapsed = time.monotonic() - start

    assert digest == checksum(raw, "raw")
    assert elapsed < 5


def flat_vmdk(folder: Path, declared: int, data: bytes) -> Path:
    """A monolithicFlat VMDK declaring ``declared`` bytes over a small flat file holding ``data``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "disk-flat.vmdk").write_bytes(data)
    descriptor = folder / "disk.vmdk"
    descriptor.write_text(
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'
        f'RW {declared // 512} FLAT "disk-flat.vmdk" 0\n'
    )
    return descriptor


def peak_rss_of_checksum(image: Path, fmt: str) -> tuple[str, int]:
    """(digest, peak RSS in bytes) of ``checksum`` run in a fresh interpreter, as a worker would."""
    code = (
        "import sys; from conversion import checksum\n"
        "print(checksum(sys.argv[1], sys.argv[2]))\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(image), fmt], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    return out[0], int(out[1]) * 1024


def test_memory_is_flat_in_the_declared_size(tmp_path: Path) -> None:
    """A descriptor declaring 4 TiB (the old code built ~2 GiB of zero digests) costs what 64 MiB costs."""
    data = os.urandom(MIB)
    small = flat_vmdk(tmp_path / "small", 64 * MIB, data)
    huge = flat_vmdk(tmp_path / "huge", 4 << 40, data)

    small_digest, small_rss = peak_rss_of_checksum(small, "vmdk")
    huge_digest, huge_rss = peak_rss_of_checksum(huge, "vmdk")

    assert huge_rss < small_rss + 32 * MIB, (small_rss, huge_rss)
    assert huge_digest != small_digest  # the size is part of the digest
    # the huge disk's digest still follows the algorithm: data chunks then 2^26 - 16 empty ones
    chunks = (4 << 40) // CHUNK_SIZE
    outer = hashlib.sha256(b"coriolis:sha256-chunked:v1\0" + struct.pack("<QI", 4 << 40, CHUNK_SIZE))
    for at in range(0, MIB, CHUNK_SIZE):
        outer.update(hashlib.sha256(data[at:at + CHUNK_SIZE]).digest())
    zero = hashlib.sha256(bytes(CHUNK_SIZE)).digest() * 65536
    left = chunks - MIB // CHUNK_SIZE
    while left:
        take = min(left, 65536)
        outer.update(zero[: take * 32])
        left -= take
    assert huge_digest == outer.hexdigest()
