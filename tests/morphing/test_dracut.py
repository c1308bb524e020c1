"""Which dracut initramfs images the morph rebuilds: a generic one already holding the drivers is kept."""

from __future__ import annotations

from pathlib import Path

from morphing import dracut
from morphing.changes import ChangeLog
from morphing.fixers import FixContext
from morphing.fixers.redhat import RedHatFixer
from morphing.options import MorphOptions
from morphing.tree import LocalTree
from providers.types import NullReporter, OsInfo, OsType, TargetProfile
from tests.morphing.conftest import make_vm
from tests.morphing.family_case import DEVICES, UUID_ROOT
from tests.morphing.listing_runner import ListingRunner

OLD, NEW = "5.14.0-362.el9.x86_64", "5.14.0-427.el9.x86_64"
IMAGE = "/boot/initramfs-{kv}.img"
VIRTIO = ["virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "virtio_console"]


def listing(kv: str, modules: list[str]) -> str:
    """What ``lsinitrd`` prints: a header, then ``ls -l`` lines ending in the path."""
    head = "Image: /boot/initramfs.img: 31M\n========\ndracut modules:\nbash\nsystemd\n========\n"
    rows = [f"-rw-r--r--   1 root root  41234 Jan  1 00:00 usr/lib/modules/{kv}/kernel/drivers/x/{m}.ko.xz"
            for m in modules]
    return head + "\n".join(["drwxr-xr-x   3 root root  0 Jan  1 00:00 usr/lib/modules", *rows]) + "\n"


def lsinitrd(listings: dict[str, str]) -> ListingRunner:
    """Answers ``lsinitrd /boot/initramfs-<kv>.img`` with that kernel's listing (another image fails)."""
    return ListingRunner(listings, "lsinitrd", IMAGE)


def rhel(root: Path, kernels: list[str], conf: dict[str, str] | None = None, lister: bool = True) -> LocalTree:
    files = {"/usr/bin/dracut": "#!/bin/sh\n", **(conf or {})}
    if lister:
        files["/usr/bin/lsinitrd"] = "#!/bin/sh\n"
    for kv in kernels:
        files.update({f"/boot/vmlinuz-{kv}": "k", f"/lib/modules/{kv}/modules.dep": "",
                      f"/lib/modules/{kv}/modules.builtin": "", IMAGE.format(kv=kv): "initramfs"})
    for path, text in files.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(text)
    return LocalTree(root)


def add(tree: LocalTree, runner: ListingRunner, devices_renamed: bool = False) -> list[str]:
    log = ChangeLog(NullReporter())
    dracut.add_drivers(tree, runner, log, VIRTIO, IMAGE, devices_renamed)
    return log.changes


def rebuilt(runner: ListingRunner) -> list[str]:
    return [call[-1] for call in runner.calls if call[0] == "dracut"]


def test_a_generic_initramfs_holding_the_drivers_is_kept(tmp_path: Path) -> None:
    listings = {OLD: listing(OLD, ["vmw_pvscsi", "sd_mod"]), NEW: listing(NEW, [*VIRTIO, "vmw_pvscsi"])}
    runner = lsinitrd(listings)
    changes = add(rhel(tmp_path, [OLD, NEW]), runner)
    assert rebuilt(runner) == [OLD]
    assert f"drivers: /boot/initramfs-{NEW}.img already holds {' '.join(VIRTIO)}; not rebuilt" in changes
    assert (tmp_path / f"boot/initramfs-{NEW}.img").read_text() == "initramfs"  # untouched, no backup taken
    # later kernels get the drivers in any case
    assert "virtio_blk" in (tmp_path / "etc/dracut.conf.d/90-coriolis.conf").read_text()


def test_an_initramfs_lsinitrd_cannot_read_is_rebuilt(tmp_path: Path) -> None:
    runner = lsinitrd({})
    add(rhel(tmp_path, [NEW]), runner)
    assert ["lsinitrd", f"/boot/initramfs-{NEW}.img"] in runner.calls
    assert rebuilt(runner) == [NEW]


def test_a_host_only_guest_is_rebuilt_without_listing(tmp_path: Path) -> None:
    conf = {"/usr/lib/dracut/dracut.conf.d/01-dist.conf": 'hostonly="yes"\nhostonly_cmdline="no"\n'}
    runner = lsinitrd({NEW: listing(NEW, VIRTIO)})
    add(rhel(tmp_path, [NEW], conf), runner)
    assert runner.calls == [["dracut", "-f", "--add-drivers", " ".join(VIRTIO), IMAGE.format(kv=NEW), NEW]]


def test_the_last_hostonly_setting_wins_and_etc_replaces_its_namesake(tmp_path: Path) -> None:
    lib = "/usr/lib/dracut/dracut.conf.d"
    tree = rhel(tmp_path, [NEW], {
        f"{lib}/01-dist.conf": 'hostonly="yes"\n',
        f"{lib}/02-generic-image.conf": 'hostonly="no"\n',  # dracut-config-generic, as cloud images have
    })
    assert dracut.hostonly(tree) is False
    (tmp_path / "etc/dracut.conf.d").mkdir(parents=True)
    (tmp_path / "etc/dracut.conf.d/02-generic-image.conf").write_text("# the operator turned it off\n")
    assert dracut.hostonly(tree) is True
    (tmp_path / "etc/dracut.conf.d/99-local.conf").write_text("  hostonly=no\n")
    assert dracut.hostonly(tree) is False
    assert dracut.hostonly(rhel(tmp_path / "bare", [NEW])) is False  # dracut's own default


def test_renamed_devices_or_no_lsinitrd_rebuild_every_image(tmp_path: Path) -> None:
    listings = {NEW: listing(NEW, VIRTIO)}
    runner = lsinitrd(listings)
    add(rhel(tmp_path / "a", [NEW]), runner, devices_renamed=True)
    assert rebuilt(runner) == [NEW] and not [c for c in runner.calls if c[0] == "lsinitrd"]
    runner = lsinitrd(listings)
    add(rhel(tmp_path / "b", [NEW], lister=False), runner)
    assert rebuilt(runner) == [NEW] and not [c for c in runner.calls if c[0] == "lsinitrd"]


def morph_drivers(tree: LocalTree, runner: ListingRunner, concerns: tuple[str, ...]) -> list[str]:
    os_info = OsInfo(OsType.LINUX, "rhel", "9.4", "Red Hat Enterprise Linux 9.4 (Plow)", "x86_64")
    ctx = FixContext(tree, runner, DEVICES, os_info, make_vm(1), TargetProfile(), MorphOptions(),
                     ChangeLog(NullReporter()))
    fixer = RedHatFixer(ctx)
    for concern in concerns:
        fixer.fix(concern)
    return ctx.log.changes


def test_the_red_hat_fixer_keeps_the_initramfs_only_when_no_device_was_renamed(tmp_path: Path) -> None:
    listings = {NEW: listing(NEW, VIRTIO)}
    by_uuid = rhel(tmp_path / "uuid", [NEW], {"/etc/fstab": f"UUID={UUID_ROOT} / xfs defaults 0 0\n"})
    runner = lsinitrd(listings)
    morph_drivers(by_uuid, runner, ("bootloader", "drivers"))
    assert rebuilt(runner) == []
    by_name = rhel(tmp_path / "name", [NEW], {"/etc/fstab": "/dev/sda3 / xfs defaults 0 0\n"})
    runner = lsinitrd(listings)
    changes = morph_drivers(by_name, runner, ("bootloader", "drivers"))
    assert f"fstab: /dev/sda3 (/) is now UUID={UUID_ROOT}" in changes  # the vanishing name was rewritten...
    assert rebuilt(runner) == [NEW]  # ...so the image, which may carry it, is rebuilt
    runner = lsinitrd(listings)
    morph_drivers(rhel(tmp_path / "alone", [NEW]), runner, ("drivers",))  # the bootloader concern did not run
    assert rebuilt(runner) == [NEW]
