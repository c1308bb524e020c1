"""Which network configuration system a guest uses, and its reader/writer module."""

from __future__ import annotations

from types import ModuleType

from morphing.network import ifupdown, keyfile, netplan, networkd
from morphing.tree import GuestTree

SYSTEMS: dict[str, ModuleType] = {
    "netplan": netplan,
    "networkmanager": keyfile,
    "networkd": networkd,
    "ifupdown": ifupdown,
}


def detect_system(tree: GuestTree) -> str:
    """The system that configures the guest's ethernet NICs.

    The first that has ethernet configuration wins (netplan generates the others' files, so it
    goes first); with none configured, the first installed (networkd is always there with systemd).
    """
    for name, module in SYSTEMS.items():
        if module.in_use(tree):
            return name
    for name in ("netplan", "networkmanager", "ifupdown"):
        if SYSTEMS[name].installed(tree):
            return name
    return "networkd"
