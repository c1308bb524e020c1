"""dracut initramfs rebuilds (Red Hat and SUSE families): destination drivers added, kept for later kernels."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from morphing import rpmdb
from morphing.changes import ChangeLog
from morphing.errors import MorphError
from morphing.initrd import initrd_lacks
from morphing.kernels import installed_kernels
from morphing.runner import Runner
from morphing.tree import BACKUP_DIR, GuestTree

CONF = "/etc/dracut.conf.d/90-coriolis.conf"
BINARIES = ("/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut")
LISTERS = ("/usr/bin/lsinitrd", "/usr/sbin/lsinitrd", "/bin/lsinitrd")
# dracut reads /etc/dracut.conf, then the conf.d files of both folders by name (/etc's replacing /usr/lib's)
_MAIN_CONF = "/etc/dracut.conf"
_CONF_DIRS = ("/usr/lib/dracut/dracut.conf.d", "/etc/dracut.conf.d")
_HOSTONLY = re.compile(r"^\s*hostonly\s*=\s*[\"']?(yes|no)\b", re.MULTILINE)


def hostonly(tree: GuestTree) -> bool:
    """dracut's effective ``hostonly`` setting in the guest (the last assignment wins; dracut's own default is no).

    A host-only initramfs holds the drivers of the hypervisor it was built on, so it is rebuilt
    without listing it first; a generic one (``hostonly="no"``, cloud images) may hold them already.
    """
    by_name: dict[str, str] = {}
    for folder in _CONF_DIRS:
        for path in tree.glob(folder, "*.conf"):
            by_name[posixpath.basename(path)] = path
    setting = False
    for path in [_MAIN_CONF, *(by_name[name] for name in sorted(by_name))]:
        for match in _HOSTONLY.finditer(tree.read(path) or ""):
            setting = match.group(1) == "yes"
    return setting


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
    check_first: bool = False,
) -> None:
    """Rebuild each kernel's initramfs with the drivers; the old one is kept under the backup folder.

    Args:
        tree: the guest.
        runner: runs dracut (and ``lsinitrd``) in the guest.
        log: change events.
        kernels: kernel versions.
        drivers: modules to add.
        image: the initramfs path with ``{kv}`` for the version (``/boot/initramfs-{kv}.img``).
        check_first: list each initramfs with the guest's ``lsinitrd`` first and keep one that already
            holds every driver (an unreadable one is rebuilt).

    Raises:
        MorphError: dracut failed (the old initramfs is put back first).
    """
    lister = next((p for p in LISTERS if tree.exists(p)), None) if check_first else None
    for kv in kernels:
        path = image.format(kv=kv)
        if lister and initrd_lacks(tree, runner, [posixpath.basename(lister)], path, kv, drivers) == []:
            log.record(f"drivers: {path} already holds {' '.join(drivers)}; not rebuilt")
            continue
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


def add_drivers(
    tree: GuestTree,
    runner: Runner,
    log: ChangeLog,
    drivers: Sequence[str],
    image: str,
    devices_renamed: bool = True,
) -> None:
    """Every installed kernel's initramfs given ``drivers``, and the drivers kept for later kernels.

    Kernels come from /boot, checked against the rpm database when it can be read. A generic
    initramfs (not host-only) that already holds every driver is kept as it is, unless the morph
    renamed devices in the guest's boot configuration (the initramfs may carry the old names).

    Args:
        tree: the guest.
        runner: runs dracut in the guest.
        log: change events and warnings.
        drivers: modules to add.
        image: the initramfs path with ``{kv}`` for the kernel version.
        devices_renamed: the morph rewrote a device name in fstab or the kernel command line.

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
    rebuild(tree, runner, log, kernels, drivers, image, check_first=not devices_renamed and not hostonly(tree))
