"""Small sparse source images, made once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MIB = 1 << 20


def write_sparse_raw(path: Path, size: int, data_at: dict[int, int]) -> Path:
    """A sparse raw file of ``size`` bytes with urandom data at {offset: length}."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, length in data_at.items():
            f.seek(offset)
            f.write(os.urandom(length))
    return path


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 MiB (plus an odd 512 B tail) sparse raw with about 3 MiB of random data."""
    path = tmp_path_factory.mktemp("images") / "small.raw"
    size = 64 * MIB + 512
    return write_sparse_raw(path, size, {0: 64 * 1024, 5 * MIB + 4096: 2 * MIB, size - 512 - MIB: MIB})


@pytest.fixture(scope="session")
def big_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """256 MiB sparse raw with 24 MiB of random data spread out (for progress)."""
    path = tmp_path_factory.mktemp("images") / "big.raw"
    return write_sparse_raw(path, 256 * MIB, {i * 32 * MIB: 3 * MIB for i in range(8)})
