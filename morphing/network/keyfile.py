"""NetworkManager keyfiles (system-connections/*.nmconnection): read them, write MAC-bound ones."""

from __future__ import annotations

import uuid

from morphing.network import HEADER, IfaceConfig, NicPlan, normalize_mac
from morphing.network.networkd import parse_ini
from morphing.tree import GuestTree

DIR = "/etc/NetworkManager/system-connections"
_NAMESPACE = uuid.UUID("6d6f7270-6869-6e67-2d6e-6d2d6b657973")


def _ethernet_files(tree: GuestTree) -> list[tuple[str, list[tuple[str, str, str]]]]:
    found = []
    for path in tree.glob(DIR, "*.nmconnection"):
        entries = parse_ini(tree.read(path) or "")
        if any(s == "connection" and k == "type" and v in ("ethernet", "802-3-ethernet") for s, k, v in entries):
            found.append((path, entries))
    return found


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The ethernet connections, in file-name order."""
    configs = []
    for _path, entries in _ethernet_files(tree):
        config = IfaceConfig()
        for section, key, value in entries:
            family = "4" if section == "ipv4" else "6"
            if section == "connection" and key == "interface-name":
                config.name = value
            elif section in ("ethernet", "802-3-ethernet") and key == "mac-address":
                config.mac = normalize_mac(value)
            elif section in ("ipv4", "ipv6") and key == "method":
                setattr(config, f"dhcp{family}", value in ("auto", "dhcp"))
            elif section in ("ipv4", "ipv6") and (key.startswith("address") or key == "addresses"):
                for item in filter(None, value.split(";")):
                    address, _, gateway = item.partition(",")
                    config.addresses.append(address.strip())
                    if gateway.strip():
                        setattr(config, f"gateway{family}", gateway.strip())
            elif section in ("ipv4", "ipv6") and key == "gateway":
                setattr(config, f"gateway{family}", value)
            elif section in ("ipv4", "ipv6") and key == "dns":
                config.dns += [d for d in value.split(";") if d]
            elif section in ("ipv4", "ipv6") and key == "dns-search":
                config.search += [d for d in value.split(";") if d]
        configs.append(config)
    return configs


def in_use(tree: GuestTree) -> bool:
    return bool(read(tree))


def installed(tree: GuestTree) -> bool:
    return tree.exists("/usr/sbin/NetworkManager")


def render(plan: NicPlan) -> str:
    """The keyfile for one NIC (its UUID is derived from the MAC, so reruns write the same file)."""
    c = plan.config
    ident = f"coriolis-{plan.name}"
    out = [
        f"# {HEADER}",
        "[connection]",
        f"id={ident}",
        f"uuid={uuid.uuid5(_NAMESPACE, plan.mac or plan.name)}",
        "type=ethernet",
        "autoconnect=true",
        "",
        "[ethernet]",
    ]
    if plan.mac:
        out.append(f"mac-address={plan.mac.upper()}")
    v4 = [a for a in c.addresses if ":" not in a]
    v6 = [a for a in c.addresses if ":" in a]
    out += ["", "[ipv4]"] + _family(v4, c.gateway4, [d for d in c.dns if ":" not in d], c.search)
    out += ["", "[ipv6]"] + _family(v6, c.gateway6, [d for d in c.dns if ":" in d], [])
    return "\n".join(out) + "\n"


def _family(addresses: list[str], gateway: str | None, dns: list[str], search: list[str]) -> list[str]:
    if not addresses:
        return ["method=auto"]
    lines = ["method=manual"]
    for index, address in enumerate(addresses, start=1):
        lines.append(f"address{index}={address}" + (f",{gateway}" if gateway and index == 1 else ""))
    if dns:
        lines.append("dns=" + "".join(f"{d};" for d in dns))
    if search:
        lines.append("dns-search=" + "".join(f"{d};" for d in search))
    return lines


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Move the ethernet keyfiles aside and write one per NIC (mode 0600, as NM requires)."""
    changes: list[str] = []
    for path, _entries in _ethernet_files(tree):
        tree.backup(path)
        changes.append(f"network: moved {path} to the backup")
    for plan in plans:
        path = f"{DIR}/coriolis-{plan.name}.nmconnection"
        tree.write(path, render(plan), mode=0o600)
        changes.append(f"network: NetworkManager {plan.describe()} in {path}")
    return changes
