"""The user's scripts for an instance, run inside the guest (in the appliance) after the fixers."""

from __future__ import annotations

import secrets
from typing import Any

from morphing.errors import MorphError
from morphing.runner import Runner
from morphing.tree import GuestTree
from providers.types import OsType, Reporter

OUTPUT_TAIL = 4000
_SCRIPT_DIR = "/var/lib/coriolis/user-scripts"


def scripts_for(user_scripts: dict[str, Any] | None, os_type: OsType, instance: str) -> list[tuple[str, str]]:
    """(name, text) of the scripts to run: the global one for the guest's OS type, then the instance's.

    Args:
        user_scripts: upstream's shape, ``{"global": {"linux": ..., "windows": ...},
            "instances": {<instance>: ...}}``; other keys are ignored.
        os_type: the morphed guest's OS type.
        instance: the instance's identifier, as the migration lists it.
    """
    scripts = user_scripts or {}
    found = []
    global_scripts = scripts.get("global") or {}
    instances = scripts.get("instances") or {}
    candidates = []
    if isinstance(global_scripts, dict):
        candidates.append((f"global {os_type}", global_scripts.get(str(os_type))))
    if isinstance(instances, dict):
        candidates.append((f"instance {instance}", instances.get(instance)))
    for name, value in candidates:
        found.extend(_morph_phase(name, value))
    return found


# upstream's phases: both os-morphing ones run in the mounted guest here (the appliance mounts it first);
# a replica_first_boot script is for the instance's own first boot, which this service does not script
MORPH_PHASES = ("osmorphing_pre_os_mount", "osmorphing_post_os_mount")


def _morph_phase(name: str, value: Any) -> list[tuple[str, str]]:
    """The scripts of one entry: a bare string, or upstream's normalised list of ``{"phase", "payload"}``."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        return [(name, value)]
    if not isinstance(value, list):
        raise MorphError(f"user script {name} is not a script (a string or a list): {type(value).__name__}")
    found = []
    for n, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("payload"), str):
            raise MorphError(f"user script {name}[{n}] is not a {{phase, payload}} object")
        phase = item.get("phase") or MORPH_PHASES[1]
        if phase not in MORPH_PHASES:
            raise MorphError(f"user script {name}[{n}]: phase {phase} is not run here (only the os-morphing phases)")
        found.append((name if len(value) == 1 else f"{name} #{n + 1}", item["payload"]))
    return found


def run_scripts(scripts: list[tuple[str, str]], tree: GuestTree, runner: Runner, reporter: Reporter) -> list[str]:
    """Run each script with the guest's /bin/sh, its working directory the guest root; report each outcome.

    The scripts run chrooted into the guest inside the appliance (no network, never on this host);
    their output and exit status become events. Raises ``MorphError`` at the first failing script.
    """
    ran = []
    for name, text in scripts:
        base = f"{_SCRIPT_DIR}/{secrets.token_hex(4)}"
        tree.write(f"{base}.sh", text if text.endswith("\n") else text + "\n", 0o700)
        try:
            status = runner.run(
                ["/bin/sh", "-c", 'cd / && /bin/sh "$0" > "$1" 2>&1; echo "$?"', f"{base}.sh", f"{base}.out"]
            ).strip()
            output = tree.read(f"{base}.out") or ""
        finally:
            tree.remove(f"{base}.sh")
            tree.remove(f"{base}.out")
        tail = output[-OUTPUT_TAIL:].rstrip()
        shown = f"; output:\n{tail}" if tail else "; no output"
        if status != "0":
            reporter.warn(f"user script {name}: exit status {status}{shown}")
            raise MorphError(f"user script {name} failed with exit status {status}: {tail[-300:] or 'no output'}")
        reporter.info(f"user script {name}: exit status 0{shown}")
        ran.append(name)
    return ran
