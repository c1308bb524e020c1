"""Netplan (/etc/netplan/*.yaml): read its ethernets, and replace them with one MAC-matched file."""

from __future__ import annotations

from typing import Any

from morphing.network import HEADER, IfaceConfig, NicPlan, normalize_mac, yamlish
from morphing.tree import GuestTree

DIR = "/etc/netplan"
OUTPUT = f"{DIR}/90-coriolis.yaml"


def _documents(tree: GuestTree) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in tree.glob(DIR, "*.yaml"):
        try:
            data = yamlish.loads(tree.read(path) or "")
        except yamlish.YamlError:
            continue
        if isinstance(data, dict) and isinstance(data.get("network"), dict):
            docs.append((path, data["network"]))
    return docs


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The ethernets netplan configures (files merged in name order, as netplan does)."""
    merged: dict[str, dict[str, Any]] = {}
    for _path, network in _documents(tree):
        for ident, settings in (network.get("ethernets") or {}).items():
            if isinstance(settings, dict):
                merged.setdefault(str(ident), {}).update(settings)
    return [_config(ident, s) for ident, s in merged.items()]


def _config(ident: str, s: dict[str, Any]) -> IfaceConfig:
    match = s.get("match") if isinstance(s.get("match"), dict) else {}
    name = s.get("set-name") or (match.get("name") if match.get("name") and "*" not in match["name"] else ident)
    config = IfaceConfig(name=str(name), mac=normalize_mac(match.get("macaddress") or s.get("macaddress")))
    config.dhcp4 = s.get("dhcp4") is True
    config.dhcp6 = s.get("dhcp6") is True
    for address in s.get("addresses") or []:
        config.addresses.append(next(iter(address)) if isinstance(address, dict) else str(address))
    config.gateway4 = s.get("gateway4")
    config.gateway6 = s.get("gateway6")
    for route in s.get("routes") or []:
        if isinstance(route, dict) and route.get("to") in ("default", "0.0.0.0/0", "::/0") and route.get("via"):
            family = "gateway6" if ":" in str(route["via"]) else "gateway4"
            setattr(config, family, str(route["via"]))
    servers = s.get("nameservers") or {}
    config.dns = [str(a) for a in servers.get("addresses") or []]
    config.search = [str(a) for a in servers.get("search") or []]
    return config


def in_use(tree: GuestTree) -> bool:
    return bool(read(tree))


def installed(tree: GuestTree) -> bool:
    return tree.exists("/usr/sbin/netplan") or tree.exists("/sbin/netplan")


def renderer(tree: GuestTree) -> str | None:
    """The ``renderer`` the guest's netplan files ask for, if any."""
    found = None
    for _path, network in _documents(tree):
        found = network.get("renderer", found)
    return found


def render(plans: list[NicPlan], backend: str | None = None) -> str:
    """The new netplan file."""
    out = [f"# {HEADER}", "network:", "  version: 2"]
    if backend:
        out.append(f"  renderer: {backend}")
    out.append("  ethernets:")
    for plan in plans:
        c = plan.config
        out.append(f"    {plan.name}:")
        if plan.mac:
            out += ["      match:", f'        macaddress: "{plan.mac}"']
        else:
            out += ["      match:", '        name: "e*"']
        out.append(f"      dhcp4: {'true' if c.dhcp4 else 'false'}")
        if c.dhcp6:
            out.append("      dhcp6: true")
        if c.static:
            out.append("      addresses:")
            out += [f'        - "{a}"' for a in c.addresses]
            routes = [(t, g) for t, g in (("0.0.0.0/0", c.gateway4), ("::/0", c.gateway6)) if g]
            if routes:
                out.append("      routes:")
                for to, via in routes:
                    out += [f'        - to: "{to}"', f'          via: "{via}"']
            if c.dns or c.search:
                out.append("      nameservers:")
                if c.dns:
                    out.append("        addresses: [" + ", ".join(f'"{d}"' for d in c.dns) + "]")
                if c.search:
                    out.append("        search: [" + ", ".join(f'"{d}"' for d in c.search) + "]")
    return "\n".join(out) + "\n"


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Move the guest's netplan files that configure ethernets aside and write ours."""
    changes: list[str] = []
    backend = renderer(tree)
    for path, network in _documents(tree):
        if network.get("ethernets"):
            tree.backup(path)
            changes.append(f"network: moved {path} to the backup")
    tree.write(OUTPUT, render(plans, backend), mode=0o600)
    changes += [f"network: netplan {plan.describe()}" for plan in plans]
    return changes
