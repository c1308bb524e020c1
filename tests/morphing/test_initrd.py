"""Which initrds the morph rebuilds: only those lacking a destination driver (or carrying a changed setting)."""

from __future__ import annotations

from pathlib import Path

from morphing.changes import ChangeLog
from morphing.devices import BlockId
from morphing.fixers import FixContext
from morphing.fixers.debian import DebianFixer
from morphing.initrd import initrd_lacks, listed_modules, missing_modules
from morphing.options import MorphOptions
from morphing.runner import RecordingRunner
from morphing.tree import LocalTree
from providers.types import NullReporter, OsInfo, OsType, TargetProfile
from tests.morphing.conftest import make_vm
from tests.morphing.listing_runner import ListingRunner

OLD, NEW = "6.1.0-49-amd64", "6.1.0-50-amd64"
VIRTIO = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "virtio_console")
REBUILD = ["env", "COMPRESSLEVEL=1", "update-initramfs", "-u", "-k"]  # the guest's level wins when it names one


def listing(version: str, modules: list[str], suffix: str = ".ko") -> str:
    lines = ["kernel", "kernel/x86/microcode/AuthenticAMD.bin", "usr/lib/modules", f"usr/lib/modules/{version}"]
    lines += [f"usr/lib/modules/{version}/kernel/drivers/x/{m}{suffix}" for m in modules]
    return "\n".join(lines) + "\n"


def test_listed_modules_reads_plain_and_compressed_module_files() -> None:
    text = listing(NEW, ["virtio_blk", "ata_piix"]) + "usr/lib/modules/x/kernel/virtio-net.ko.xz\nusr/bin/kmod\n"
    assert listed_modules(text) == {"virtio_blk", "ata_piix", "virtio_net"}
    assert listed_modules(listing(NEW, ["virtio_scsi"], ".ko.zst")) == {"virtio_scsi"}


def test_missing_modules_counts_built_in_ones_and_keeps_order() -> None:
    text = listing(NEW, ["virtio_blk", "virtio_net"])
    assert missing_modules(text, ["virtio_pci"], VIRTIO) == ["virtio_scsi", "virtio_console"]
    assert missing_modules(text, ["virtio-pci", "virtio_scsi", "virtio_console"], VIRTIO) == []


def guest(root: Path, versions: dict[str, str], builtin: str = "") -> Path:
    """A Debian tree with a kernel (vmlinuz, modules dir, initrd) per version; ``versions``: kv → listing."""
    for kv in versions:
        (root / "boot").mkdir(parents=True, exist_ok=True)
        (root / f"boot/vmlinuz-{kv}").write_text("kernel")
        (root / f"boot/initrd.img-{kv}").write_text("initrd")
        (root / f"lib/modules/{kv}").mkdir(parents=True)
        (root / f"lib/modules/{kv}/modules.builtin").write_text(builtin)
    for program in ("usr/sbin/update-initramfs", "usr/bin/lsinitramfs"):
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        (root / program).write_text("#!/bin/sh\n")
    (root / "etc/initramfs-tools").mkdir(parents=True)
    (root / "etc/initramfs-tools/modules").write_text("# modules\n")
    return root


def fix_drivers(root: Path, runner: RecordingRunner, concerns: tuple[str, ...] = ("drivers",)) -> list[str]:
    reporter = NullReporter()
    os_info = OsInfo(OsType.LINUX, "debian", "12", "Debian GNU/Linux 12 (bookworm)", "x86_64")
    devices = {"/dev/sda1": BlockId("0a1b2c3d-0000-4000-8000-00000000000a", "ext4"),
               "/dev/sda5": BlockId("0a1b2c3d-0000-4000-8000-00000000000b", "swap")}
    ctx = FixContext(LocalTree(root), runner, devices, os_info, make_vm(1), TargetProfile(), MorphOptions(),
                     ChangeLog(reporter))
    fixer = DebianFixer(ctx)
    for concern in concerns:
        fixer.fix(concern)
    return list(ctx.log.changes)


def rebuilds(runner: RecordingRunner) -> list[list[str]]:
    return [c for c in runner.calls if "update-initramfs" in c]


def test_only_the_kernels_whose_initrd_lacks_a_driver_are_rebuilt(tmp_path: Path) -> None:
    listings = {OLD: listing(OLD, ["ata_piix", "sd_mod"]), NEW: listing(NEW, [*VIRTIO, "ata_piix"])}
    root = guest(tmp_path / "root", listings)
    runner = ListingRunner(listings)
    changes = fix_drivers(root, runner)
    assert rebuilds(runner) == [[*REBUILD, OLD]]
    assert f"drivers: rebuilt /boot/initrd.img-{OLD} (update-initramfs -u -k {OLD})" in changes
    assert any(c.startswith(f"drivers: /boot/initrd.img-{NEW} already holds virtio_pci") for c in changes)
    # later kernels get the drivers too, from the modules file
    assert "virtio_blk\n" in (root / "etc/initramfs-tools/modules").read_text()


def test_built_in_drivers_count_as_present(tmp_path: Path) -> None:
    listings = {NEW: listing(NEW, ["virtio_blk", "virtio_net", "virtio_scsi"])}
    builtin = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/char/virtio_console.ko\n"
    root = guest(tmp_path / "root", listings, builtin)
    runner = ListingRunner(listings)
    fix_drivers(root, runner)
    assert rebuilds(runner) == []


def test_an_initrd_that_cannot_be_listed_is_rebuilt(tmp_path: Path) -> None:
    # another kernel's modules, or a listing with no module at all, prove nothing about this initrd
    listings = {OLD: listing(NEW, list(VIRTIO)), NEW: "kernel\nusr/bin/kmod\n"}
    root = guest(tmp_path / "root", listings)
    runner = ListingRunner(listings)
    fix_drivers(root, runner)
    assert rebuilds(runner) == [[*REBUILD, OLD], [*REBUILD, NEW]]
    assert initrd_lacks(LocalTree(root), runner, ["lsinitramfs"], "/boot/initrd.img-missing", NEW, VIRTIO) is None


def test_a_changed_resume_device_rebuilds_even_a_complete_initrd(tmp_path: Path) -> None:
    listings = {NEW: listing(NEW, list(VIRTIO))}
    root = guest(tmp_path / "root", listings)
    (root / "etc/initramfs-tools/conf.d").mkdir(parents=True)
    (root / "etc/initramfs-tools/conf.d/resume").write_text("RESUME=/dev/sda5\n")
    runner = ListingRunner(listings)
    fix_drivers(root, runner, ("bootloader", "drivers"))
    assert "RESUME=UUID=0a1b2c3d-0000-4000-8000-00000000000b" in (
        root / "etc/initramfs-tools/conf.d/resume").read_text()
    assert rebuilds(runner) == [[*REBUILD, NEW]]
    assert not any(c[0] == "lsinitramfs" for c in runner.calls)


def test_no_kernel_found_in_boot_falls_back_to_every_kernel(tmp_path: Path) -> None:
    root = guest(tmp_path / "root", {})
    runner = ListingRunner({})
    assert "drivers: rebuilt the initrd (update-initramfs -u -k all)" in fix_drivers(root, runner)
    assert rebuilds(runner) == [[*REBUILD, "all"]]


def test_modules_list_without_the_drivers_is_rebuilt_without_listing(tmp_path: Path) -> None:
    # MODULES=list (conf.d overrides initramfs.conf) and a modules file that named none of them
    listings = {OLD: listing(OLD, ["ata_piix"]), NEW: listing(NEW, list(VIRTIO))}
    root = guest(tmp_path / "root", listings)
    (root / "etc/initramfs-tools/initramfs.conf").write_text("MODULES=most\nBUSYBOX=auto\n")
    (root / "etc/initramfs-tools/conf.d").mkdir(parents=True)
    (root / "etc/initramfs-tools/conf.d/vmware").write_text("MODULES=list\n")
    runner = ListingRunner(listings)
    fix_drivers(root, runner)
    assert rebuilds(runner) == [[*REBUILD, OLD], [*REBUILD, NEW]]
    assert not any(c[0] == "lsinitramfs" for c in runner.calls)


def test_modules_list_naming_the_drivers_already_is_checked(tmp_path: Path) -> None:
    listings = {NEW: listing(NEW, list(VIRTIO))}
    root = guest(tmp_path / "root", listings)
    (root / "etc/initramfs-tools/initramfs.conf").write_text("MODULES=list\n")
    (root / "etc/initramfs-tools/modules").write_text("\n".join(VIRTIO) + "\n")
    runner = ListingRunner(listings)
    fix_drivers(root, runner)
    assert rebuilds(runner) == []
    assert ["lsinitramfs", f"/boot/initrd.img-{NEW}"] in runner.calls
