"""The rpm database read offline (sqlite and BerkeleyDB), and VMware Tools really erased by rpm."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from morphing import rpmdb, vmware_tools
from morphing.changes import ChangeLog
from morphing.errors import MorphError
from morphing.tree import LocalTree
from providers.types import NullReporter
from tests.morphing import phony


class RpmDbRunner:
    """Test-only runner: runs the guest's ``rpm`` commands with the host's rpm against the tree's database.

    In production every guest command runs inside the libguestfs appliance with the guest as its
    root; here the packages are empty (no files, no scriptlets), so rpm only edits the database and
    ``--dbpath`` is all it takes to aim it at the tree. Anything but rpm is refused.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[list[str]] = []

    def run(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        if args[0] != "rpm":
            raise AssertionError(f"only rpm runs in this test, not {args[0]}")
        proc = subprocess.run(
            ["rpm", "--dbpath", str(self.root / "var/lib/rpm"), *args[1:]], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise MorphError(f"rpm failed: {proc.stderr.strip()}")
        return proc.stdout


def host_rpm_names(dbdir: Path, backend: str | None = None) -> set[str]:
    args = ["rpm", "--dbpath", str(dbdir), "-qa", "--qf", "%{NAME}\\n"]
    if backend:
        args[1:1] = ["--define", f"_db_backend {backend}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    cache = tmp_path_factory.mktemp("rpms")
    wanted = [
        ("open-vm-tools", "12.2.5", "3.el8"),
        ("open-vm-tools-desktop", "12.2.5", "3.el8"),
        ("kernel-core", "4.18.0", "513.5.1.el8_9"),
        ("bash", "4.4.20", "4.el8"),
    ]
    return [phony.build_rpm(cache, *package) for package in wanted]


def test_sqlite_and_berkeleydb_list_the_same_packages(tmp_path: Path, rpms: list[Path]) -> None:
    sqlite_root, bdb_root = tmp_path / "sqlite", tmp_path / "bdb"
    phony.make_rpmdb(sqlite_root / "var/lib/rpm", rpms)
    phony.make_rpmdb(bdb_root / "var/lib/rpm", rpms)
    phony.sqlite_to_bdb(bdb_root / "var/lib/rpm")
    # the BerkeleyDB file is a real one: the host's rpm reads it with its read-only bdb backend
    assert host_rpm_names(bdb_root / "var/lib/rpm", "bdb_ro") >= {"open-vm-tools", "kernel-core"}
    from_sqlite = rpmdb.read_packages(LocalTree(sqlite_root))
    from_bdb = rpmdb.read_packages(LocalTree(bdb_root))
    assert from_sqlite == from_bdb
    assert rpmdb.Package("kernel-core", "4.18.0", "513.5.1.el8_9", "x86_64") in (from_bdb or [])
    assert {p.name for p in from_bdb or []} == {"open-vm-tools", "open-vm-tools-desktop", "kernel-core", "bash"}


def test_big_headers_on_overflow_pages(tmp_path: Path) -> None:
    cache = tmp_path / "rpms"
    cache.mkdir()
    spec = cache / "big.spec"
    spec.write_text(
        "Name: kernel\nVersion: 3.10.0\nRelease: 1160.el7\nSummary: big\nLicense: GPL\nBuildArch: x86_64\n"
        "%description\n" + "A long description that fills several BerkeleyDB pages.\n" * 300 + "%files\n"
    )
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {cache}", str(spec)], check=True)
    dbdir = tmp_path / "root/var/lib/rpm"
    phony.make_rpmdb(dbdir, list((cache / "RPMS/x86_64").glob("*.rpm")))
    phony.sqlite_to_bdb(dbdir)
    packages = rpmdb.read_packages(LocalTree(tmp_path / "root"))
    assert packages == [rpmdb.Package("kernel", "3.10.0", "1160.el7", "x86_64")]


def test_not_a_database_is_an_error() -> None:
    with pytest.raises(rpmdb.RpmDbError):
        rpmdb.bdb_values(b"\0" * 8192)


def test_tools_erased_from_the_rpm_database(tmp_path: Path, rpms: list[Path]) -> None:
    root = tmp_path / "root"
    phony.make_rpmdb(root / "var/lib/rpm", rpms)
    (root / "etc/vmware-tools").mkdir(parents=True)
    (root / "etc/vmware-tools/tools.conf").write_text("[logging]\n")
    runner = RpmDbRunner(root)
    reporter = NullReporter()
    vmware_tools.remove_rpm_tools(LocalTree(root), runner, ChangeLog(reporter))
    assert runner.calls == [["rpm", "-e", "--nodeps", "open-vm-tools", "open-vm-tools-desktop"]]
    assert host_rpm_names(root / "var/lib/rpm") == {"kernel-core", "bash"}
    assert {p.name for p in rpmdb.read_packages(LocalTree(root)) or []} == {"kernel-core", "bash"}
    assert not (root / "etc/vmware-tools").exists()
    infos = [m for level, m in reporter.events if level == "INFO"]
    assert "guest tools: erased open-vm-tools, open-vm-tools-desktop" in infos


def test_hostile_bytes_do_not_crash_the_reader(tmp_path: Path, rpms: list[Path]) -> None:
    dbdir = tmp_path / "root/var/lib/rpm"
    phony.make_rpmdb(dbdir, rpms)
    phony.sqlite_to_bdb(dbdir)
    data = bytearray((dbdir / "Packages").read_bytes())
    for page in range(1, len(data) // 4096):
        data[page * 4096 + 20 : page * 4096 + 22] = b"\xff\xff"  # absurd entry counts on every page
    (dbdir / "Packages").write_bytes(bytes(data))
    found = rpmdb.read_packages(LocalTree(tmp_path / "root"))
    assert {p.name for p in found or []} <= {"open-vm-tools", "open-vm-tools-desktop", "kernel-core", "bash"}
    assert rpmdb.parse_header(b"\x00\x00\x00\x02\x00\x00\xff\xff" + b"\x00" * 40) is None
