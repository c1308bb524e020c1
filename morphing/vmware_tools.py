"""VMware Tools in a guest: which packages and leftovers they are, and their removal from rpm guests."""

from __future__ import annotations

import re

from morphing import rpmdb
from morphing.changes import ChangeLog
from morphing.errors import MorphError
from morphing.runner import Runner
from morphing.tree import GuestTree

PACKAGE = re.compile(r"open-vm-tools(-.+)?|vmware-tools(-.+)?|VMwareTools(-.+)?")
# What the VMware tarball installer and the packages leave behind (services that would fail to start).
LEFTOVERS = (
    "/etc/vmware-tools",
    "/etc/init.d/vmware-tools",
    "/usr/lib/vmware-tools",
    "/etc/systemd/system/vmtoolsd.service",
    "/etc/systemd/system/multi-user.target.wants/vmtoolsd.service",
    "/etc/systemd/system/multi-user.target.wants/vmware-tools.service",
    "/etc/systemd/system/vmware-tools.service",
)
UNINSTALLER = "/usr/bin/vmware-uninstall-tools.pl"


def remove_leftovers(tree: GuestTree, log: ChangeLog) -> None:
    """Delete what the tools leave behind once their packages are gone."""
    for path in LEFTOVERS:
        if tree.remove(path):
            log.record(f"guest tools: removed {path}")


def remove_rpm_tools(tree: GuestTree, runner: Runner, log: ChangeLog) -> None:
    """Erase the VMware Tools packages (``rpm -e --nodeps`` in the guest) or run the tarball's uninstaller.

    The guest's own rpm does the erase, inside the appliance, so its database stays consistent;
    ``--nodeps`` because nothing the guest needs to boot depends on the tools (open-vm-tools-desktop
    and friends go in the same transaction).
    """
    packages = sorted(name for name in rpmdb.installed_names(tree, runner) if PACKAGE.fullmatch(name))
    if packages:
        runner.run(["rpm", "-e", "--nodeps", *packages])
        log.record(f"guest tools: erased {', '.join(packages)}")
    if tree.is_file(UNINSTALLER):
        try:
            runner.run([UNINSTALLER])
            log.record(f"guest tools: ran {UNINSTALLER}")
        except MorphError as exc:
            log.warn(f"guest tools: {UNINSTALLER} failed, removing its files instead: {exc}")
        tree.remove(UNINSTALLER)
    remove_leftovers(tree, log)
