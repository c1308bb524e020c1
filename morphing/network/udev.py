"""udev's persistent-net rules (70-persistent-net.rules): NIC names bound to the MACs the destination keeps."""

from __future__ import annotations

import re

from morphing.network import HEADER, NicPlan, normalize_mac
from morphing.tree import GuestTree

RULES = "/etc/udev/rules.d/70-persistent-net.rules"
_ADDRESS = re.compile(r'ATTR\{address\}=="([0-9a-fA-F:]+)"')


def rewrite(tree: GuestTree, plans: list[NicPlan], always: bool = False) -> list[str]:
    """Drop the rules for MACs that are gone and bind each kept MAC to its planned name.

    Args:
        tree: the guest.
        plans: the NICs to configure.
        always: write the rules even when the guest had none (SUSE, whose ifcfg files name NICs).
    """
    old = tree.read(RULES)
    bound = [p for p in plans if p.mac]
    if old is None and not (always and bound):
        return []
    kept = {p.mac for p in bound}
    changes = []
    for line in (old or "").splitlines():
        match = _ADDRESS.search(line)
        if match and normalize_mac(match.group(1)) not in kept:
            changes.append(f"network: dropped the stale udev name rule for {normalize_mac(match.group(1))}")
    lines = [f"# {HEADER}"]
    for plan in bound:
        lines.append(
            f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{address}}=="{plan.mac}", '
            f'ATTR{{type}}=="1", NAME="{plan.name}"'
        )
        changes.append(f"network: udev names the NIC with MAC {plan.mac} {plan.name}")
    text = "\n".join(lines) + "\n"
    if text == old:
        return []
    if old is not None:
        tree.backup(RULES)
    tree.write(RULES, text, mode=0o644)
    return changes
