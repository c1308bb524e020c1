"""Debian's ifupdown (/etc/network/interfaces): read it, and rewrite it with .link files for names."""

from __future__ import annotations

from pathlib import PurePosixPath

from morphing.network import HEADER, IfaceConfig, NicPlan, normalize_mac, prefix_of
from morphing.tree import GuestTree

MAIN = "/etc/network/interfaces"
_SKIP = ("lo",)


def _files(tree: GuestTree) -> list[str]:
    """interfaces and the files it sources, in reading order (guest paths)."""
    order: list[str] = []
    pending = [MAIN]
    while pending:
        path = pending.pop(0)
        if path in order:
            continue
        text = tree.read(path)
        if text is None:
            continue
        order.append(path)
        base = PurePosixPath(path).parent
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("source", "source-directory"):
                pattern = words[1] if words[1].startswith("/") else str(base / words[1])
                if words[0] == "source-directory":
                    pattern = pattern.rstrip("/") + "/*"
                parent = str(PurePosixPath(pattern).parent)
                pending += tree.glob(parent, PurePosixPath(pattern).name)
    return order


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The non-loopback interfaces ifupdown configures, in file order."""
    configs: dict[str, IfaceConfig] = {}
    for path in _files(tree):
        current: IfaceConfig | None = None
        family = "inet"
        for raw in (tree.read(path) or "").splitlines():
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            key, args = words[0], words[1:]
            if key == "iface" and len(args) >= 3:
                name, family, method = args[0], args[1], args[2]
                if name in _SKIP:
                    current = None
                    continue
                current = configs.setdefault(name, IfaceConfig(name=name))
                if method == "dhcp":
                    setattr(current, "dhcp6" if family == "inet6" else "dhcp4", True)
                elif method == "auto" and family == "inet6":
                    current.dhcp6 = True
            elif key in ("auto", "allow-hotplug", "mapping", "source", "source-directory") or key.startswith("allow-"):
                current = None
            elif current is not None and args:
                _option(current, family, key, args)
    return list(configs.values())


def _option(config: IfaceConfig, family: str, key: str, args: list[str]) -> None:
    if key == "address":
        config.addresses.append(args[0])
    elif key == "netmask" and config.addresses and "/" not in config.addresses[-1]:
        config.addresses[-1] += f"/{prefix_of(args[0])}"
    elif key == "gateway":
        setattr(config, "gateway6" if family == "inet6" else "gateway4", args[0])
    elif key == "dns-nameservers":
        config.dns += args
    elif key in ("dns-search", "dns-domain"):
        config.search += args
    elif key == "hwaddress":
        config.mac = normalize_mac(args[-1])


def in_use(tree: GuestTree) -> bool:
    return bool(read(tree))


def installed(tree: GuestTree) -> bool:
    return tree.exists("/sbin/ifup") or tree.exists("/usr/sbin/ifup")


def render_interfaces(plans: list[NicPlan]) -> str:
    """The new /etc/network/interfaces."""
    out = [
        "# Written by Coriolis. Interfaces keep their source names: a .link file in",
        "# /etc/systemd/network/ gives the NIC with each source MAC address its old name.",
        "source /etc/network/interfaces.d/*",
        "",
        "auto lo",
        "iface lo inet loopback",
    ]
    for plan in plans:
        c = plan.config
        out += ["", f"allow-hotplug {plan.name}"]
        if c.static:
            v4 = [a for a in c.addresses if ":" not in a]
            v6 = [a for a in c.addresses if ":" in a]
            if v4 or not c.dhcp4:
                out += _static(plan.name, "inet", v4, c.gateway4, c.dns, c.search)
            else:
                out.append(f"iface {plan.name} inet dhcp")
            if v6:
                out += _static(plan.name, "inet6", v6, c.gateway6, [], [])
            elif c.dhcp6:
                out.append(f"iface {plan.name} inet6 auto")
        else:
            out.append(f"iface {plan.name} inet dhcp")
    return "\n".join(out) + "\n"


def _static(
    name: str, family: str, addresses: list[str], gateway: str | None, dns: list[str], search: list[str]
) -> list[str]:
    lines = [f"iface {name} {family} static"]
    lines += [f"    address {a}" for a in addresses]
    if gateway:
        lines.append(f"    gateway {gateway}")
    if dns:
        lines.append("    dns-nameservers " + " ".join(dns))
    if search:
        lines.append("    dns-search " + " ".join(search))
    return lines


def render_link(plan: NicPlan) -> str:
    """A systemd .link file that names the NIC with the plan's MAC as before (udev applies it)."""
    return f"# {HEADER}\n[Match]\nMACAddress={plan.mac}\n\n[Link]\nName={plan.name}\n"


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Rewrite ifupdown's configuration for ``plans``; returns the changes."""
    changes: list[str] = []
    configured = {c.name for c in read(tree)}
    for path in _files(tree)[1:]:
        text = tree.read(path) or ""
        if any(w[:1] == ["iface"] and len(w) > 1 and w[1] in configured for w in map(str.split, text.splitlines())):
            tree.backup(path)
            changes.append(f"network: moved {path} to the backup (its interfaces are in {MAIN} now)")
    tree.backup(MAIN)
    tree.write(MAIN, render_interfaces(plans), mode=0o644)
    for plan in plans:
        changes.append(f"network: ifupdown {plan.describe()}")
        if plan.mac:
            link = f"/etc/systemd/network/10-coriolis-{plan.name}.link"
            tree.write(link, render_link(plan), mode=0o644)
            changes.append(f"network: {link} gives the NIC with MAC {plan.mac} the name {plan.name}")
    return changes
