"""Shared pieces for morphing tests: VMs, and a comparison of guest trees."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from morphing.appliance import Appliance
from providers.types import NicInfo, NullReporter, VmInfo
from tests.morphing import images

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


PHONY_FSTAB = (
    f"UUID={images.ROOT_UUID} / ext4 defaults 0 1\n"
    f"UUID={images.SRV_UUID} /srv ext4 defaults 0 2\n"  # /srv is missing in the root: that mount fails
    "LABEL=guestlogs /var/log ext4 defaults 0 2\n"
)
SYSLOG = "Dec  5 08:00:00 phony kernel: hello from the second disk\n"


@pytest.fixture(scope="session")
def phony_disks(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    """Two disks of a busybox "Debian": root and /srv on disk 0 (raw), /var/log on disk 1 (qcow2)."""
    base = tmp_path_factory.mktemp("phony")
    root = images.busybox_debian(base / "root", PHONY_FSTAB)
    (root / "var/log").mkdir(parents=True)
    (root / "etc/evil-abs").symlink_to("/etc/shadow")
    (root / "etc/evil-rel").symlink_to("../../../../../../../etc/shadow")
    (base / "srv").mkdir()
    (base / "srv/srv.txt").write_text("srv\n")
    (base / "log").mkdir()
    (base / "log/syslog").write_text(SYSLOG)
    disk0 = images.disk_from_trees(
        base / "disk0.raw", [(root, images.ROOT_UUID, 40), (base / "srv", images.SRV_UUID, 8)]
    )
    raw1 = base / "disk1.raw"
    images.mbr_disk(raw1, 10, [(1, 8, "83")])
    images.ext4_at(raw1, 1, 8, base / "log", images.LOG_UUID, label="guestlogs")
    disk1 = base / "disk1.qcow2"
    images.run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw1), str(disk1))
    return [(disk0, "raw"), (disk1, "qcow2")]


@pytest.fixture(scope="session")
def phony_appliance(phony_disks: list[tuple[Path, str]]) -> Iterator[tuple[Appliance, NullReporter]]:
    """One launched appliance on the phony guest, shared by read-only assertions (a launch is 10-40 s).

    Its disks are behind an overlay: what tests write is discarded.
    """
    reporter = NullReporter()
    with Appliance(phony_disks, reporter, readonly=True) as appliance:
        yield appliance, reporter
