"""systemd-networkd (/etc/systemd/network/*.network): read it, write one MAC-matched file per NIC."""

from __future__ import annotations

from morphing.network import HEADER, IfaceConfig, NicPlan, normalize_mac
from morphing.tree import GuestTree

DIR = "/etc/systemd/network"


def parse_ini(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) triples of a systemd unit or NM keyfile, repeated keys kept."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line:
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def _ethernet_files(tree: GuestTree) -> list[tuple[str, list[tuple[str, str, str]]]]:
    found = []
    for path in tree.glob(DIR, "*.network"):
        entries = parse_ini(tree.read(path) or "")
        match = {k: v for s, k, v in entries if s == "Match"}
        names = match.get("Name", "").split()
        if match.get("Type") in ("ether", None) and (
            "MACAddress" in match or any(not n.startswith(("lo", "br", "bond", "wl", "veth", "docker")) for n in names)
        ):
            found.append((path, entries))
    return found


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The ethernet interfaces configured by .network files, in file order."""
    configs = []
    for _path, entries in _ethernet_files(tree):
        config = IfaceConfig()
        for section, key, value in entries:
            if section == "Match" and key == "Name" and "*" not in value:
                config.name = value.split()[0]
            elif section == "Match" and key in ("MACAddress", "PermanentMACAddress"):
                config.mac = normalize_mac(value.split()[0])
            elif section == "Network" and key == "DHCP":
                config.dhcp4 = value in ("yes", "true", "ipv4", "1")
                config.dhcp6 = value in ("yes", "true", "ipv6", "1")
            elif (section, key) in (("Network", "Address"), ("Address", "Address")):
                config.addresses.append(value)
            elif (section, key) in (("Network", "Gateway"), ("Route", "Gateway")):
                setattr(config, "gateway6" if ":" in value else "gateway4", value)
            elif section == "Network" and key == "DNS":
                config.dns += value.split()
            elif section == "Network" and key == "Domains":
                config.search += [d for d in value.split() if d != "~."]
        configs.append(config)
    return configs


def in_use(tree: GuestTree) -> bool:
    return bool(read(tree))


def render(plan: NicPlan) -> str:
    """The .network file for one NIC."""
    c = plan.config
    match = f"MACAddress={plan.mac}" if plan.mac else "Type=ether"
    dhcp = {(True, True): "yes", (True, False): "ipv4", (False, True): "ipv6"}.get((c.dhcp4, c.dhcp6))
    out = [f"# {HEADER}", "[Match]", match, "", "[Network]"]
    if dhcp:
        out.append(f"DHCP={dhcp}")
    out += [f"Address={a}" for a in c.addresses]
    out += [f"Gateway={g}" for g in (c.gateway4, c.gateway6) if g]
    out += [f"DNS={d}" for d in c.dns]
    if c.search:
        out.append("Domains=" + " ".join(c.search))
    return "\n".join(out) + "\n"


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Move the ethernet .network files aside and write one per NIC."""
    changes: list[str] = []
    for path, _entries in _ethernet_files(tree):
        tree.backup(path)
        changes.append(f"network: moved {path} to the backup")
    for plan in plans:
        path = f"{DIR}/10-coriolis-{plan.name}.network"
        tree.write(path, render(plan), mode=0o644)
        changes.append(f"network: systemd-networkd {plan.describe()} in {path}")
    return changes
