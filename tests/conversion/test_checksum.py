"""Tests for conversion.checksum: the documented algorithm, format independence, speed on holes."""

from __future__ import annotations

import hashlib
import os
import struct
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
