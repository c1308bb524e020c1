"""The morph stage: the guest in a libguestfs appliance, its OS detected, its family's fixer run concern by concern."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from morphing.appliance import Appliance, ApplianceConfig, Inspection
from morphing.changes import ChangeLog
from morphing.devices import DeviceMap
from morphing.errors import MorphError
from morphing.fixers import FixContext, find_fixer
from morphing.options import MorphOptions, MorphResult, Toolkit
from morphing.runner import Runner, TimedRunner
from morphing.tree import GuestTree, LocalTree
from morphing.user_scripts import run_scripts, scripts_for
from providers.types import OsInfo, OsType, Reporter, TargetProfile, VmInfo


def morph(
    disks: list[tuple[Path, str]],
    vm: VmInfo,
    target: TargetProfile,
    options: MorphOptions,
    reporter: Reporter,
    appliance: ApplianceConfig | None = None,
    user_scripts: dict[str, Any] | None = None,
    instance: str = "",
    toolkit: Toolkit | None = None,
) -> MorphResult:
    """Make a migrated guest boot and reach the network on the destination; changes disks in place.

    Every read, write and guest program happens inside one libguestfs appliance with all the
    instance's disks attached (never on this host).

    Args:
        disks: (path, format) of each converted disk in staging, the boot disk first.
        vm: the source VM (its NICs' MACs are kept by the destination).
        target: what the destination needs (disk bus, NIC model, cloud-init datasources).
        options: the user's choices (static IPs, hostname...).
        reporter: progress and change events; ``step`` may raise ``Cancelled``.
        appliance: how to run the appliance (accelerator, timeout, cache); defaults otherwise.
        user_scripts: the migration's scripts (upstream's shape); the global one for the guest's
            OS type and the instance's run in the guest after the fixers.
        instance: the instance's identifier (the key of its script).
        toolkit: what the operator supplies for Windows guests (virtio-win...).

    Raises:
        MorphError: no OS found, an OS family no fixer handles, a guest command or user script
            failed, or the appliance session timed out.
        Cancelled: from the reporter; the appliance is shut down first.
    """
    if not disks:
        raise MorphError("no disks to morph")
    reporter.step(0, None, "morph: launching the appliance")
    started = time.monotonic()
    with Appliance(disks, reporter, appliance) as guest:
        inspected = time.monotonic()
        os_info = guest_os_info(guest.tree, guest.inspection)
        runner = TimedRunner(guest.runner)
        result = morph_tree(guest.tree, guest.devices, runner, vm, target, options, reporter, os_info, toolkit)
        scripts = scripts_for(user_scripts, result.os_info.os_type, instance)
        if scripts:
            reporter.step(0, len(scripts), "morph: user scripts")
            scripts_started = time.monotonic()
            ran = run_scripts(scripts, guest.tree, guest.runner, reporter)
            result.changes.extend(f"user script {name}: ran" for name in ran)
            result.timings["user_scripts"] = round(time.monotonic() - scripts_started, 2)
    timings = {
        "appliance_launch": round(guest.launch_seconds, 2),
        "inspection": round(inspected - started - guest.launch_seconds, 2),
        **result.timings,
        **{program: round(seconds, 2) for program, seconds in runner.seconds.items()},
        "total": round(time.monotonic() - started, 2),
    }
    reporter.info("morph: times " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return dataclasses.replace(result, timings=timings, inspection=dataclasses.asdict(guest.inspection))


def guest_os_info(tree: GuestTree, inspection: Inspection) -> OsInfo:
    """Our own detection, completed by libguestfs' inspection where ours found nothing."""
    from morphing.detect import detect_os

    info = detect_os(tree)
    known = inspection.distro not in ("", "unknown")
    if info.os_type == OsType.UNKNOWN and inspection.os_type in ("linux", "windows") and known:
        version = inspection.version.removesuffix(".0") if inspection.os_type == "linux" else inspection.version
        return OsInfo(OsType(inspection.os_type), inspection.distro, version, inspection.product, inspection.arch)
    return dataclasses.replace(
        info,
        product_name=info.product_name or inspection.product or None,
        architecture=info.architecture or inspection.arch or None,
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
    """Morph a guest reached through a ``GuestTree`` (the appliance, or a plain tree in tests).

    Args:
        root: the guest's tree (a plain directory is served by ``LocalTree``).
        devices: old device names (/dev/sda1...) → UUID and type of what is on them now.
        runner: runs guest commands (in the appliance, or a recording stand-in).
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
    timings: dict[str, float] = {}
    for index, concern in enumerate(fixer.concerns):
        reporter.step(index, total, f"morph: {concern}")
        started = time.monotonic()
        fixer.fix(concern)
        timings[concern] = round(time.monotonic() - started, 2)
    reporter.step(total, total, "morph: done")
    return MorphResult(os_info, list(log.changes), fixer_class.name, timings)
