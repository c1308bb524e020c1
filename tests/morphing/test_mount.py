"""Real images (root): partition offsets, LVM by offset, FUSE for qcow2, blkid UUIDs, clean unmount."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from morphing import MorphError, MorphOptions, morph
from morphing.mount import GuestMount
from providers.types import Cancelled, NullReporter, TargetProfile
from tests.morphing.conftest import GOLDEN, MAC1, make_vm
from tests.morphing.images import (
    ext4_at,
    loops_on,
    lvm_pv,
    mbr_disk,
    mounts_under,
    read_file,
    run,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mount)"),
]
ROOT_UUID = "1b7e3c2a-0000-4000-8000-000000000001"
BOOT_UUID = "1b7e3c2a-0000-4000-8000-000000000002"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


@pytest.fixture(autouse=True)
def nothing_left_behind(tmp_path: Path):
    yield
    assert loops_on(tmp_path / "x") == []
    assert mounts_under("/tmp/coriolis-") == []


def vmware_tree(root: Path, fstab: str) -> Path:
    shutil.copytree(GOLDEN / "cloud_init_dhcp" / "input", root)
    shutil.copytree(GOLDEN / "ifupdown_static" / "input", root, dirs_exist_ok=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "etc/fstab").write_text(fstab)
    (root / "etc/vmware-tools").mkdir()
    for name in ("proc", "sys", "dev", "boot/grub"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "boot/grub/grub.cfg").write_text(
        "menuentry 'Debian' {\n  linux /boot/vmlinuz root=/dev/sda1 ro resume=/dev/sda5\n}\n"
    )
    return root


def plain_disk(tmp_path: Path) -> Path:
    tree = vmware_tree(tmp_path / "tree", "/dev/sda1 / ext4 errors=remount-ro 0 1\n")
    disk = tmp_path / "disk.raw"
    mbr_disk(disk, 64, [(1, 62, "83")])
    ext4_at(disk, 1, 62, tree, ROOT_UUID)
    return disk


def test_morph_raw_partition(tmp_path: Path) -> None:
    disk = plain_disk(tmp_path)
    reporter = NullReporter()
    result = morph([(disk, "raw")], make_vm(2), TargetProfile(), MorphOptions(preserve_static_ips=True), reporter)
    assert result.fixer == "debian"
    assert "guest root is disk 0 partition 1 (ext4)" in [m for _level, m in reporter.events]
    assert read_file(disk, 1, "/etc/fstab").startswith(f"UUID={ROOT_UUID} / ext4")
    assert f"root=UUID={ROOT_UUID} ro\n" in read_file(disk, 1, "/boot/grub/grub.cfg")
    assert f"MACAddress={MAC1}" in read_file(disk, 1, "/etc/systemd/network/10-coriolis-ens192.link")
    assert "address 192.168.10.20/24" in read_file(disk, 1, "/etc/network/interfaces")
    assert "datasource_list: [NoCloud, None]" in read_file(disk, 1, "/etc/cloud/cloud.cfg.d/99_coriolis.cfg")
    assert "tools.conf" not in run("debugfs", "-R", "ls -l /etc", f"{disk}?offset={1 << 20}")
    assert "drivers: initramfs-tools not found in the guest; initrd not rebuilt" in [m for _l, m in reporter.events]


def test_morph_qcow2_in_place_through_fuse(tmp_path: Path) -> None:
    disk = plain_disk(tmp_path)
    qcow2 = tmp_path / "disk.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(disk), str(qcow2))
    morph([(qcow2, "qcow2")], make_vm(1), TargetProfile(), MorphOptions(), NullReporter())
    back = tmp_path / "back.raw"
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(back))
    assert "iface ens192 inet dhcp" in read_file(back, 1, "/etc/network/interfaces")
    run("qemu-img", "check", "-f", "qcow2", str(qcow2))


def test_lvm_root_with_separate_boot(tmp_path: Path) -> None:
    tree = vmware_tree(
        tmp_path / "tree",
        "/dev/mapper/vg0-root / ext4 defaults 0 1\n/dev/sda1 /boot ext4 defaults 0 2\n"
        "/dev/mapper/vg0-swap none swap sw 0 0\n",
    )
    boot = tmp_path / "boot"
    shutil.move(tree / "boot", boot)
    (tree / "boot").mkdir()
    disk = tmp_path / "disk.raw"
    mbr_disk(disk, 96, [(1, 16, "83"), (17, 78, "8e")])
    ext4_at(disk, 1, 16, boot, BOOT_UUID)
    lvm_pv(disk, 17, "vg0", "AbCdEfGhIjKlMnOpQrStUvWxYz012345", [("swap", 0, 4), ("root", 4, 60)])
    # PV at 17 MiB, extents of 1 MiB from 1 MiB in: root's extent 4 is at 17 + 1 + 4 MiB.
    ext4_at(disk, 22, 60, tree, ROOT_UUID)
    reporter = NullReporter()
    with GuestMount([(disk, "raw")], reporter) as guest:
        assert (guest.root / "boot/grub/grub.cfg").is_file()
        assert guest.devices["/dev/sda1"].uuid == BOOT_UUID
        assert "guest root is LV vg0/root (ext4)" in [m for _level, m in reporter.events]
    morph([(disk, "raw")], make_vm(1), TargetProfile(), MorphOptions(), NullReporter())
    assert f"UUID={BOOT_UUID} /boot" in read_file(disk, 22, "/etc/fstab")
    assert "/dev/mapper/vg0-root / ext4" in read_file(disk, 22, "/etc/fstab")
    assert "root=/dev/sda1" not in read_file(disk, 1, "/grub/grub.cfg")


def test_cancel_unmounts(tmp_path: Path) -> None:
    disk = plain_disk(tmp_path)
    reporter = NullReporter()
    reporter.cancelled = True
    with pytest.raises(Cancelled):
        morph([(disk, "raw")], make_vm(1), TargetProfile(), MorphOptions(), reporter)


def test_blank_disk_is_a_clear_error(tmp_path: Path) -> None:
    disk = tmp_path / "blank.raw"
    mbr_disk(disk, 8, [(1, 6, "83")])
    with pytest.raises(MorphError, match="no operating system found on the disks"):
        morph([(disk, "raw")], make_vm(1), TargetProfile(), MorphOptions(), NullReporter())
