"""The morph stage: mount the guest, detect its OS, run its family's fixer concern by concern."""

from __future__ import annotations

from pathlib import Path

from morphing.changes import ChangeLog
from morphing.devices import DeviceMap
from morphing.errors import MorphError
from morphing.fixers import FixContext, find_fixer
from morphing.mount import GuestMount
from morphing.options import MorphOptions, MorphResult, Toolkit
from morphing.runner import ChrootRunner, Runner
from morphing.tree import GuestTree, LocalTree
from providers.types import OsInfo, OsType, Reporter, TargetProfile, VmInfo


def morph(
    disks: list[tuple[Path, str]],
    vm: VmInfo,
    target: TargetProfile,
    options: MorphOptions,
    reporter: Reporter,
    toolkit: Toolkit | None = None,
) -> MorphResult:
    """Make a migrated guest boot and reach the network on the destination; changes disks in place.

    Args:
        disks: (path, format) of each converted disk in staging, the boot disk first.
        vm: the source VM (its NICs' MACs are kept by the destination).
        target: what the destination needs (disk bus, NIC model, cloud-init datasources).
        options: the user's choices (static IPs, hostname...).
        reporter: progress and change events; ``step`` may raise ``Cancelled``.
        toolkit: what the operator supplies for Windows guests (virtio-win...).

    Raises:
        MorphError: no OS found, an OS family no fixer handles, or a guest command failed.
        Cancelled: from the reporter; the guest is unmounted first.
    """
    if not disks:
        raise MorphError("no disks to morph")
    reporter.step(0, None, "morph: mounting the guest")
    with GuestMount(disks, reporter) as guest:
        return morph_tree(
            guest.root, guest.devices, ChrootRunner(guest.root), vm, target, options, reporter, guest.os_info, toolkit
        )


def morph_tree(
    root: GuestTree | Path,
    devices: DeviceMap,
    runner: Runner,
    vm: VmInfo,
    target: TargetProfile,
    options: MorphOptions,
    reporter: Reporter,
    os_info: OsInfo | None = None,
    toolkit: Toolkit | None = None,
) -> MorphResult:
    """Morph a guest that is already a directory tree (mounted, or a plain tree in tests).

    Args:
        root: the guest's tree (a plain directory is served by ``LocalTree``).
        devices: old device names (/dev/sda1...) → UUID and type of what is on them now.
        runner: runs guest commands (chroot, or a recording stand-in).
        os_info: the detected OS (detected here when None).
        toolkit: what the operator supplies for Windows guests.
        vm, target, options, reporter: as for ``morph``.
    """
    if os_info is None:
        from morphing.detect import detect_os

        os_info = detect_os(root)
    if os_info.os_type == OsType.UNKNOWN:
        raise MorphError(f"no operating system found in the guest at {root}")
    fixer_class = find_fixer(os_info)
    if fixer_class is None:
        what = os_info.product_name or " ".join(filter(None, [os_info.distribution, os_info.version]))
        raise MorphError(f"unsupported OS: {os_info.os_type} ({what or 'unknown distribution'}); no fixer for it")
    log = ChangeLog(reporter)
    reporter.info(f"morph: found {os_info.product_name or os_info.distribution}; using the {fixer_class.name} fixer")
    tree = LocalTree(root) if isinstance(root, Path) else root
    fixer = fixer_class(FixContext(tree, runner, devices, os_info, vm, target, options, log, toolkit or Toolkit()))
    total = len(fixer.concerns)
    for index, concern in enumerate(fixer.concerns):
        reporter.step(index, total, f"morph: {concern}")
        fixer.fix(concern)
    reporter.step(total, total, "morph: done")
    return MorphResult(os_info, list(log.changes), fixer_class.name)
