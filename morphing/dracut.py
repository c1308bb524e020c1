"""dracut initramfs rebuilds (Red Hat and SUSE families): destination drivers added, kept for later kernels."""

from __future__ import annotations

from collections.abc import Sequence

from morphing.changes import ChangeLog
from morphing.runner import Runner
from morphing.tree import BACKUP_DIR, GuestTree

CONF = "/etc/dracut.conf.d/90-coriolis.conf"


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
