"""Shared pieces for morphing tests: VMs, and a comparison of guest trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from providers.types import NicInfo, VmInfo

GOLDEN = Path(__file__).parent / "golden"
MAC1 = "00:50:56:aa:bb:01"
MAC2 = "00:50:56:aa:bb:02"


def make_vm(nic_count: int = 1) -> VmInfo:
    macs = [MAC1, MAC2][:nic_count]
    nics = tuple(NicInfo(mac.upper(), "VM Network", name=f"Network adapter {i + 1}") for i, mac in enumerate(macs))
    return VmInfo(id="vm-42", name="web01", nics=nics)


def tree_files(root: Path, skip: tuple[str, ...] = ("var/lib/coriolis",)) -> dict[str, Path]:
    """Relative path → file, for every file (or symlink) below root, minus the skipped folders."""
    files = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if not rel.startswith(skip):
                files[rel] = path
    return files


def diff_trees(actual: Path, expected: Path, skip: tuple[str, ...] = ("var/lib/coriolis",)) -> list[str]:
    """Human-readable differences between two trees (empty when they are the same), minus ``skip``."""
    got, want = tree_files(actual, skip), tree_files(expected, skip)
    problems = [f"missing: {p}" for p in sorted(want.keys() - got.keys())]
    problems += [f"unexpected: {p}" for p in sorted(got.keys() - want.keys())]
    for rel in sorted(want.keys() & got.keys()):
        a, b = got[rel].read_text(), want[rel].read_text()
        if a != b:
            problems.append(f"differs: {rel}\n--- got ---\n{a}--- expected ---\n{b}")
    return problems


@pytest.fixture
def guest_copy(tmp_path: Path):
    """Copy a golden case's input tree to tmp_path/root and return it."""

    def copy(case: str) -> Path:
        root = tmp_path / "root"
        shutil.copytree(GOLDEN / case / "input", root, symlinks=True)
        return root

    return copy
