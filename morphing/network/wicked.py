"""SUSE's wicked (/etc/sysconfig/network/ifcfg-*, routes): read it, write one ifcfg per NIC name.

wicked configures interfaces by name; the names are bound to the MACs the destination keeps by
udev's persistent-net rules (``morphing.network.udev``), written beside these files.
"""

from __future__ import annotations

from morphing.detect import parse_shell_vars
from morphing.network import HEADER, IfaceConfig, NicPlan, prefix_of
from morphing.tree import GuestTree

DIR = "/etc/sysconfig/network"
ROUTES = f"{DIR}/routes"
CONFIG = f"{DIR}/config"
_SKIP_SUFFIXES = (".bak", ".orig", ".old", ".rpmsave", ".rpmnew", "~")
# keys that make an ifcfg file a bond, bridge, VLAN or tunnel rather than an ethernet NIC
_NOT_ETHERNET = ("BONDING_MASTER", "BRIDGE", "ETHERDEVICE", "TUNNEL", "INTERFACETYPE")


def _ethernet_files(tree: GuestTree) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for path in tree.glob(DIR, "ifcfg-*"):
        name = path.rsplit("/ifcfg-", 1)[1]
        if name == "lo" or name.endswith(_SKIP_SUFFIXES):
            continue
        values = parse_shell_vars(tree.read(path) or "")
        if any(values.get(key, "").lower() not in ("", "no") for key in _NOT_ETHERNET):
            continue
        found.append((path, name, values))
    return found


def _default_routes(text: str, name: str | None = None) -> dict[str, str]:
    """``default <gateway> - <dev>`` lines → family → gateway (only those for ``name`` or any device)."""
    gateways: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("default", "0.0.0.0/0", "::/0"):
            device = words[3] if len(words) >= 4 and words[3] != "-" else None
            if name is None or device in (None, name):
                gateways["6" if ":" in words[1] else "4"] = words[1]
    return gateways


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The ethernet interfaces wicked configures, in file-name order."""
    config_values = parse_shell_vars(tree.read(CONFIG) or "")
    dns = config_values.get("NETCONFIG_DNS_STATIC_SERVERS", "").split()
    search = config_values.get("NETCONFIG_DNS_STATIC_SEARCHLIST", "").split()
    global_routes = tree.read(ROUTES) or ""
    configs = []
    for _path, name, values in _ethernet_files(tree):
        config = IfaceConfig(name=name)
        proto = values.get("BOOTPROTO", "static").lower()
        config.dhcp4 = proto in ("dhcp", "dhcp4", "dhcp+autoip")
        config.dhcp6 = proto in ("dhcp", "dhcp6")
        for key in sorted(k for k in values if k == "IPADDR" or k.startswith("IPADDR_")):
            address = values[key]
            if not address:
                continue
            if "/" not in address:
                suffix = key.removeprefix("IPADDR")
                bits = values.get(f"PREFIXLEN{suffix}") or (
                    str(prefix_of(values[f"NETMASK{suffix}"])) if values.get(f"NETMASK{suffix}") else "24"
                )
                address = f"{address}/{bits}"
            config.addresses.append(address)
        gateways = _default_routes(global_routes, name)
        gateways.update(_default_routes(tree.read(f"{DIR}/ifroute-{name}") or "", name))
        config.gateway4, config.gateway6 = gateways.get("4"), gateways.get("6")
        if config.static:
            config.dns, config.search = list(dns), list(search)
        configs.append(config)
    return configs


def in_use(tree: GuestTree) -> bool:
    return bool(_ethernet_files(tree))


def installed(tree: GuestTree) -> bool:
    return tree.is_dir(DIR)


def render(plan: NicPlan) -> str:
    """The ifcfg file for one NIC (wicked's syntax: quoted values, addresses with their prefix)."""
    c = plan.config
    # "dhcp" is SUSE's default: DHCPv4 and DHCPv6, either may fail without blocking the other
    proto = "static" if c.static else "dhcp"
    out = [f"# {HEADER}", f"BOOTPROTO='{proto}'", "STARTMODE='auto'"]
    for index, address in enumerate(c.addresses):
        out.append(f"IPADDR{'' if index == 0 else f'_{index}'}='{address}'")
    return "\n".join(out) + "\n"


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Move the ethernet ifcfg (and ifroute) files aside and write one per NIC; routes per NIC name."""
    changes: list[str] = []
    global_gateways = _default_routes(tree.read(ROUTES) or "")
    for path, name, _values in _ethernet_files(tree):
        tree.backup(path)
        changes.append(f"network: moved {path} to the backup")
        route = f"{DIR}/ifroute-{name}"
        if tree.exists(route):
            tree.backup(route)
            changes.append(f"network: moved {route} to the backup")
    if global_gateways and not any(p.config.static for p in plans):
        tree.backup(ROUTES)
        changes.append(f"network: moved {ROUTES} to the backup (its static default route; every NIC uses DHCP)")
    for plan in plans:
        path = f"{DIR}/ifcfg-{plan.name}"
        tree.write(path, render(plan), mode=0o644)
        changes.append(f"network: wicked {plan.describe()} in {path}")
        c = plan.config
        routes = [
            f"default {gateway} - {plan.name}"
            for family, gateway in (("4", c.gateway4), ("6", c.gateway6))
            if c.static and gateway and global_gateways.get(family) != gateway
        ]
        if routes:
            tree.write(f"{DIR}/ifroute-{plan.name}", "\n".join([f"# {HEADER}", *routes]) + "\n", mode=0o644)
            changes.append(f"network: default route of {plan.name} in {DIR}/ifroute-{plan.name}")
    return changes
