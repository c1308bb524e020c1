"""dracut initramfs rebuilds (Red Hat and SUSE families): destination drivers added, kept for later kernels."""

from __future__ import annotations

from collections.abc import Sequence

from morphing import rpmdb
from morphing.changes import ChangeLog
from morphing.errors import MorphError
from morphing.kernels import installed_kernels
from morphing.runner import Runner
from morphing.tree import BACKUP_DIR, GuestTree

CONF = "/etc/dracut.conf.d/90-coriolis.conf"
BINARIES = ("/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut")


def persist(tree: GuestTree, drivers: Sequence[str]) -> list[str]:
    """A dracut.conf.d entry so initramfs builds of later kernel updates keep the drivers."""
    text = (
        "# Written by Coriolis: drivers of the destination hypervisor, for every initramfs built from now on.\n"
        f'add_drivers+=" {" ".join(drivers)} "\n'
    )
    if tree.read(CONF) == text:
        return []
    tree.write(CONF, text, mode=0o644)
    return [f"drivers: {CONF} adds {' '.join(drivers)} to every initramfs"]


def rebuild(
    tree: GuestTree,
    runner: Runner,
    log: ChangeLog,
    kernels: Sequence[str],
    drivers: Sequence[str],
    image: str,
) -> None:
    """Rebuild each kernel's initramfs with the drivers; the old one is kept under the backup folder.

    Args:
        tree: the guest.
        runner: runs dracut in the guest.
        log: change events.
        kernels: kernel versions.
        drivers: modules to add.
        image: the initramfs path with ``{kv}`` for the version (``/boot/initramfs-{kv}.img``).

    Raises:
        MorphError: dracut failed (the old initramfs is put back first).
    """
    for kv in kernels:
        path = image.format(kv=kv)
        backup = f"/{BACKUP_DIR}{path}"
        had_one = tree.is_file(path)
        if had_one:
            tree.copy(path, backup)
        try:
            runner.run(["dracut", "-f", "--add-drivers", " ".join(drivers), path, kv])
        except Exception:
            if had_one:
                tree.copy(backup, path)
            raise
        kept = f" (the old one is {backup})" if had_one else ""
        log.record(f"drivers: rebuilt {path} with {' '.join(drivers)}{kept}")


def add_drivers(tree: GuestTree, runner: Runner, log: ChangeLog, drivers: Sequence[str], image: str) -> None:
    """Every installed kernel's initramfs rebuilt with ``drivers``, and the drivers kept for later kernels.

    Kernels come from /boot, checked against the rpm database when it can be read.

    Args:
        tree: the guest.
        runner: runs dracut in the guest.
        log: change events and warnings.
        drivers: modules to add.
        image: the initramfs path with ``{kv}`` for the kernel version.

    Raises:
        MorphError: no dracut or no kernel in the guest, or dracut failed.
    """
    try:
        packages = rpmdb.read_packages(tree)
    except rpmdb.RpmDbError as exc:
        log.warn(f"drivers: the rpm database is unreadable ({exc}); kernels taken from /boot alone")
        packages = None
    kernels, warnings = installed_kernels(tree, packages)
    for warning in warnings:
        log.warn(warning)
    if not any(tree.exists(path) for path in BINARIES):
        raise MorphError("drivers: dracut not found in the guest; its initramfs cannot get the new drivers")
    if not kernels:
        raise MorphError("drivers: no kernel with its modules found in /boot; the guest cannot boot")
    for change in persist(tree, drivers):
        log.record(change)
    rebuild(tree, runner, log, kernels, drivers, image)
