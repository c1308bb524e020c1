"""Every family's boot pieces: vanishing device names, grubenv, the UEFI fallback, kernels and dracut."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from morphing import bootloader, dracut, uefi
from morphing.changes import ChangeLog
from morphing.devices import BlockId, resolve, stable_name
from morphing.errors import MorphError
from morphing.kernels import installed_kernels
from morphing.rpmdb import Package
from morphing.tree import BACKUP_DIR, LocalTree
from providers.types import NullReporter

DEVICES = {
    "/dev/sda1": BlockId("AAAA-0001", "vfat"),
    "/dev/sda2": BlockId("uuid-boot", "xfs"),
    "/dev/sdb1": BlockId("uuid-data", "xfs"),
    "/dev/sdc1": BlockId(None, "ext4", "backup"),
    "/dev/sdd1": BlockId("uuid-other", "ext4"),
}


@pytest.mark.parametrize(
    ("device", "fstype", "expected"),
    [
        ("/dev/sda2", None, "UUID=uuid-boot"),
        ("/dev/disk/by-id/scsi-36000c29a1b2c3d4e5f60718293a4b5c6-part2", "xfs", "UUID=uuid-boot"),
        ("/dev/disk/by-id/wwn-0x6000c29a1b2c3d4e5f60718293a4b5c6-part2", None, "UUID=uuid-boot"),
        ("/dev/disk/by-id/ata-VMware_Virtual_SATA_Hard_Drive_00000000000000000001-part2", None, "UUID=uuid-boot"),
        # partition 1 exists on four disks: the fstype tells them apart, else the by-path SCSI target
        ("/dev/disk/by-id/scsi-36000c29ffffffffffffffffffffffff-part1", "vfat", "UUID=AAAA-0001"),
        ("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1", None, "UUID=uuid-data"),
        ("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:2:0-part1", None, "LABEL=backup"),
        ("/dev/disk/by-id/scsi-36000c29ffffffffffffffffffffffff-part1", "ext4", None),  # two ext4: ambiguous
        ("/dev/disk/by-id/scsi-36000c29ffffffffffffffffffffffff-part7", None, None),
    ],
)
def test_vanishing_names_resolve_only_when_certain(device: str, fstype: str | None, expected: str | None) -> None:
    assert stable_name(resolve(device, DEVICES, fstype)) == expected


def test_stable_names_are_left_alone() -> None:
    fstab = (
        "UUID=1234 / xfs defaults 0 0\n/dev/mapper/rhel-root /x xfs defaults 0 0\n"
        "/dev/disk/by-id/dm-uuid-LVM-abc /y xfs defaults 0 0\n/dev/disk/by-uuid/1234 /z xfs defaults 0 0\n"
    )
    text, changes, warnings = bootloader.rewrite_fstab(fstab, DEVICES)
    assert (text, changes, warnings) == (fstab, [], [])


def test_kernel_args_keep_rootflags_and_drop_unknown_resume() -> None:
    line = "linux /vmlinuz root=/dev/disk/by-id/wwn-0x5000-part2 rootflags=subvol=@/.snapshots/2/snapshot "
    line += "resume=/dev/sdz9 quiet\n"
    text, changes = bootloader.rewrite_kernel_args(line, DEVICES, "grub.cfg")
    assert text == "linux /vmlinuz root=UUID=uuid-boot rootflags=subvol=@/.snapshots/2/snapshot quiet\n"
    assert changes == [
        "grub.cfg: root=/dev/disk/by-id/wwn-0x5000-part2 is now root=UUID=uuid-boot",
        "grub.cfg: dropped resume=/dev/sdz9",
    ]


def test_grubenv_stays_one_block() -> None:
    body = "# GRUB Environment Block\nkernelopts=root=/dev/sda2 ro\n"
    env = body + "#" * (1024 - len(body))
    text, changes = bootloader.rewrite_grubenv(env, DEVICES, "grubenv")
    assert len(text.encode()) == 1024
    assert text.startswith("# GRUB Environment Block\nkernelopts=root=UUID=uuid-boot ro\n###")
    assert changes


def loader_tree(tmp_path: Path, files: dict[str, str]) -> LocalTree:
    for rel, text in files.items():
        path = tmp_path / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return LocalTree(tmp_path)


def test_fallback_from_grub_alone(tmp_path: Path) -> None:
    tree = loader_tree(
        tmp_path, {"/boot/efi/EFI/debian/grubx64.efi": "grub", "/boot/efi/EFI/debian/grub.cfg": "configfile x\n"}
    )
    changes = uefi.ensure_fallback(tree)
    assert (tmp_path / "boot/efi/EFI/BOOT/BOOTX64.EFI").read_text() == "grub"
    assert not (tmp_path / "boot/efi/EFI/BOOT/grubx64.efi").exists()
    assert "configfile ($root)/EFI/debian/grub.cfg" in (tmp_path / "boot/efi/EFI/BOOT/grub.cfg").read_text()
    assert len(changes) == 2
    assert uefi.ensure_fallback(tree) == []


def test_fallback_present_in_another_case_is_kept(tmp_path: Path) -> None:
    tree = loader_tree(
        tmp_path, {"/boot/efi/EFI/centos/shimx64.efi": "shim", "/boot/efi/EFI/BOOT/bootx64.efi": "old shim"}
    )
    assert uefi.ensure_fallback(tree) == []
    assert (tmp_path / "boot/efi/EFI/BOOT/bootx64.efi").read_text() == "old shim"


def test_no_esp_no_fallback(tmp_path: Path) -> None:
    assert uefi.ensure_fallback(loader_tree(tmp_path, {"/boot/grub2/grub.cfg": ""})) == []


def kernel_tree(tmp_path: Path, versions: Sequence[str], modules: Sequence[str]) -> LocalTree:
    files = {f"/boot/vmlinuz-{v}": "k" for v in versions}
    files.update({f"/lib/modules/{v}/modules.dep": "" for v in modules})
    return loader_tree(tmp_path, files)


def test_kernels_from_boot_checked_against_rpm(tmp_path: Path) -> None:
    tree = kernel_tree(
        tmp_path,
        ["5.14.0-362.el9.x86_64", "5.14.0-70.el9.x86_64", "6.1.0-custom", "0-rescue-abc"],
        ["5.14.0-362.el9.x86_64", "6.1.0-custom"],
    )
    packages = [
        Package("kernel-core", "5.14.0", "362.el9", "x86_64"),
        Package("kernel-core", "5.14.0", "427.el9", "x86_64"),
        Package("bash", "5.1", "1.el9", "x86_64"),
    ]
    kernels, warnings = installed_kernels(tree, packages)
    assert kernels == ["5.14.0-362.el9.x86_64", "6.1.0-custom"]
    assert warnings == [
        "drivers: kernel 6.1.0-custom in /boot is not in the rpm database; rebuilding it anyway",
        "drivers: the rpm database lists kernel-core-5.14.0-427.el9.x86_64 but /boot has no such kernel; skipped",
    ]


def test_suse_kernel_versions_match_their_packages(tmp_path: Path) -> None:
    tree = kernel_tree(tmp_path, ["5.14.21-150500.55.39-default"], ["5.14.21-150500.55.39-default"])
    packages = [Package("kernel-default", "5.14.21", "150500.55.39.1", "x86_64")]
    assert installed_kernels(tree, packages) == (["5.14.21-150500.55.39-default"], [])


class FailingRunner:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        raise MorphError("dracut: cannot find module virtio_blk")


def test_failed_dracut_puts_the_old_initramfs_back(tmp_path: Path) -> None:
    tree = loader_tree(tmp_path, {"/boot/initramfs-5.14.img": "vmware-era"})
    runner = FailingRunner()
    with pytest.raises(MorphError, match="virtio_blk"):
        dracut.rebuild(tree, runner, ChangeLog(NullReporter()), ["5.14"], ["virtio_blk"], "/boot/initramfs-{kv}.img")
    assert (tmp_path / "boot/initramfs-5.14.img").read_text() == "vmware-era"
    assert (tmp_path / BACKUP_DIR / "boot/initramfs-5.14.img").read_text() == "vmware-era"
    assert runner.calls == [["dracut", "-f", "--add-drivers", "virtio_blk", "/boot/initramfs-5.14.img", "5.14"]]


def test_dracut_conf_persists_once(tmp_path: Path) -> None:
    tree = LocalTree(tmp_path)
    assert dracut.persist(tree, ["virtio_blk", "virtio_net"])
    assert dracut.persist(tree, ["virtio_blk", "virtio_net"]) == []
    assert 'add_drivers+=" virtio_blk virtio_net "' in (tmp_path / "etc/dracut.conf.d/90-coriolis.conf").read_text()
