"""SELinux in a guest: files written offline carry no labels, so a relabel is scheduled for first boot."""

from __future__ import annotations

from morphing.changes import ChangeLog
from morphing.detect import parse_shell_vars
from morphing.tree import GuestTree

CONFIG = "/etc/selinux/config"
AUTORELABEL = "/.autorelabel"


def schedule_relabel(tree: GuestTree, log: ChangeLog) -> None:
    """Create /.autorelabel when SELinux is enforcing or permissive (selinux-autorelabel runs at boot)."""
    mode = parse_shell_vars(tree.read(CONFIG) or "").get("SELINUX", "disabled").lower()
    if mode in ("enforcing", "permissive") and not tree.exists(AUTORELABEL):
        tree.write(AUTORELABEL, "", mode=0o644)
        log.record(f"selinux: {mode}; scheduled a full relabel at first boot ({AUTORELABEL})")
