"""cloud-init in a guest: point it at the destination's datasources and drop VMware customization."""

from __future__ import annotations

import re
from collections.abc import Sequence

from morphing.tree import GuestTree

CFG_DIR = "/etc/cloud/cloud.cfg.d"
# cloud-init reads cloud.cfg.d/*.cfg in name order, later files winning: "99_" sorts after the
# stock 90_dpkg.cfg (which sets datasource_list) and 99-installer.cfg.
OUTPUT = f"{CFG_DIR}/99_coriolis.cfg"
_VMWARE_FILES = ("99-vmware-guest-customization.cfg", "99-vmware-customization.cfg")
_VMWARE_KEY = re.compile(r"^\s*disable_vmware_customization\s*:.*\n?", re.MULTILINE)


def installed(tree: GuestTree) -> bool:
    return tree.exists("/etc/cloud/cloud.cfg") or tree.exists("/usr/bin/cloud-init")


def render(datasources: Sequence[str], disable_network: bool) -> str:
    """Our cloud.cfg.d file."""
    names = list(dict.fromkeys([*datasources, "None"]))
    lines = [
        "# Written by Coriolis: the datasources of the destination cloud.",
        f"datasource_list: [{', '.join(names)}]",
    ]
    if disable_network:
        lines += [
            "# The static addresses of the source VM were kept: cloud-init must not replace them.",
            "network: {config: disabled}",
        ]
    return "\n".join(lines) + "\n"


def configure(tree: GuestTree, datasources: Sequence[str], disable_network: bool) -> list[str]:
    """Write our config, remove VMware datasource/customization settings; returns the changes.

    Args:
        tree: the guest.
        datasources: the destination's datasources, in order (None is appended).
        disable_network: stop cloud-init from writing network config (static IPs were kept).
    """
    changes: list[str] = []
    for name in _VMWARE_FILES:
        path = f"{CFG_DIR}/{name}"
        if tree.exists(path):
            tree.backup(path)
            changes.append(f"cloud-init: removed {path} (VMware customization)")
    for path in ["/etc/cloud/cloud.cfg", *tree.glob(CFG_DIR, "*.cfg")]:
        text = tree.read(path)
        if text is not None and _VMWARE_KEY.search(text):
            tree.write(path, _VMWARE_KEY.sub("", text))
            changes.append(f"cloud-init: removed disable_vmware_customization from {path}")
    tree.write(OUTPUT, render(datasources, disable_network), mode=0o644)
    names = ", ".join(list(dict.fromkeys([*datasources, "None"])))
    changes.append(f"cloud-init: datasources {names} in {OUTPUT}")
    if disable_network:
        changes.append("cloud-init: network configuration disabled (static addresses kept)")
    return changes
