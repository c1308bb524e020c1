"""GuestfsTree behaves like LocalTree: the same operations give the same answers (shared appliance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from morphing.appliance import Appliance
from morphing.tree import BACKUP_DIR, GuestTree, LocalTree
from providers.types import NullReporter

pytestmark = [pytest.mark.slow]
PATHS = (
    "/parity", "/parity/d", "/parity/d/a.conf", "/parity/d/b.txt", "/parity/d/link.conf", "/parity/abs-dir",
    "/parity/abs-dir/a.conf", "/parity/dangling", "/parity/missing/x.conf", "/parity/rel-up", "/parity/e/b.txt",
    f"/{BACKUP_DIR}/parity/d/a.conf", "/parity/up.txt", "/parity/none", "/parity/f/copy.txt",
)  # fmt: skip


def exercise(tree: GuestTree, host_file: Path) -> list[Any]:
    """Every GuestTree operation, with what each query answered after each phase."""
    out: list[Any] = []

    def snapshot() -> None:
        for p in PATHS:
            out.append((p, tree.exists(p), tree.is_dir(p), tree.is_file(p), tree.is_symlink(p), tree.read(p),
                        tree.readlink(p)))  # fmt: skip
        out.append(tree.glob("/parity/d", "*.conf"))
        out.append(tree.glob("/parity/abs-dir", "*.conf"))
        out.append((tree.listdir("/parity/d"), tree.listdir("/parity/missing"), tree.listdir("/parity/d/a.conf")))

    tree.mkdir("/parity/d")
    tree.write("/parity/d/a.conf", "A\n")
    tree.write_bytes("/parity/d/b.txt", b"B\x00\xff", 0o600)
    tree.symlink("a.conf", "/parity/d/link.conf")
    tree.symlink("/parity/d", "/parity/abs-dir")
    tree.symlink("/parity/missing/x.conf", "/parity/dangling")
    tree.symlink("../../../../../parity/d", "/parity/rel-up")
    out.append(tree.read_bytes("/parity/d/b.txt", 2))
    snapshot()
    tree.write("/parity/dangling", "through\n")  # creates the dangling link's target
    tree.write("/parity/abs-dir/c.conf", "C\n")
    tree.write("/parity/rel-up/d.conf", "D\n")
    tree.upload(host_file, "/parity/up.txt", 0o644)
    snapshot()
    tree.rename("/parity/d/b.txt", "/parity/e/b.txt")
    tree.backup("/parity/d/a.conf")
    out.append((tree.remove("/parity/d/link.conf"), tree.remove("/parity/none"), tree.remove("/parity/abs-dir")))
    tree.chmod("/parity/e/b.txt", 0o640)
    tree.copy("/parity/e/b.txt", "/parity/f/copy.txt")
    snapshot()
    out.append((tree.remove("/parity/d"), tree.exists("/parity/d")))
    return out


def test_guestfs_tree_matches_a_plain_tree(phony_appliance: tuple[Appliance, NullReporter], tmp_path: Path) -> None:
    host_file = tmp_path / "upload.txt"
    host_file.write_text("uploaded\n")
    (tmp_path / "root").mkdir()
    expected = exercise(LocalTree(tmp_path / "root"), host_file)
    got = exercise(phony_appliance[0].tree, host_file)
    assert [g for g, e in zip(got, expected, strict=True) if g != e] == []
    assert got == expected
