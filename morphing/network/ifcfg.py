"""Red Hat's network-scripts (/etc/sysconfig/network-scripts/ifcfg-*): read them, write MAC-bound ones."""

from __future__ import annotations

from morphing.detect import parse_shell_vars
from morphing.network import HEADER, IfaceConfig, NicPlan, normalize_mac, prefix_of
from morphing.tree import GuestTree

DIR = "/etc/sysconfig/network-scripts"
_SKIP_SUFFIXES = (".bak", ".orig", ".old", ".rpmsave", ".rpmnew", "~")


def _ethernet_files(tree: GuestTree, directory: str = DIR) -> list[tuple[str, dict[str, str]]]:
    found = []
    for path in tree.glob(directory, "ifcfg-*"):
        name = path.rsplit("/ifcfg-", 1)[1]
        if name == "lo" or name.endswith(_SKIP_SUFFIXES):
            continue
        values = parse_shell_vars(tree.read(path) or "")
        kind = values.get("TYPE", "Ethernet").lower()
        if kind != "ethernet" or values.get("DEVICE", name).startswith("lo"):
            continue
        found.append((path, values))
    return found


def _addresses(values: dict[str, str]) -> list[str]:
    addresses = []
    for suffix in ["", *[str(n) for n in range(256)]]:
        address = values.get(f"IPADDR{suffix}")
        if not address:
            continue
        prefix = values.get(f"PREFIX{suffix}")
        netmask = values.get(f"NETMASK{suffix}")
        bits = prefix if prefix else (str(prefix_of(netmask)) if netmask else "24")
        addresses.append(address if "/" in address else f"{address}/{bits}")
    return addresses


def read(tree: GuestTree) -> list[IfaceConfig]:
    """The ethernet interfaces configured, in file-name order."""
    configs = []
    for path, values in _ethernet_files(tree):
        config = IfaceConfig(name=values.get("DEVICE") or path.rsplit("/ifcfg-", 1)[1])
        config.mac = normalize_mac(values.get("HWADDR"))
        config.dhcp4 = values.get("BOOTPROTO", "none").lower() in ("dhcp", "bootp")
        config.addresses = _addresses(values)
        if values.get("IPV6INIT", "no").lower() == "yes":
            # IPV6_AUTOCONF defaults to yes (router advertisements) unless forwarding is on
            config.dhcp6 = "yes" in (values.get("IPV6_AUTOCONF", "yes").lower(), values.get("DHCPV6C", "no").lower())
            v6 = [values.get("IPV6ADDR", ""), *values.get("IPV6ADDR_SECONDARIES", "").split()]
            config.addresses += [a for a in v6 if a]
            config.gateway6 = (values.get("IPV6_DEFAULTGW") or "").split("%")[0] or None
        config.gateway4 = values.get("GATEWAY") or values.get("GATEWAY0") or None
        config.dns = [values[f"DNS{n}"] for n in range(1, 4) if values.get(f"DNS{n}")]
        config.search = values.get("DOMAIN", "").split()
        configs.append(config)
    return configs


def in_use(tree: GuestTree) -> bool:
    return bool(_ethernet_files(tree))


def installed(tree: GuestTree) -> bool:
    return tree.is_dir(DIR)


def render(plan: NicPlan) -> str:
    """The ifcfg file for one NIC: HWADDR binds it (and, through udev's rename rule, the name) to the MAC."""
    c = plan.config
    out = [f"# {HEADER}", "TYPE=Ethernet", f"DEVICE={plan.name}", f"NAME={plan.name}"]
    if plan.mac:
        out.append(f"HWADDR={plan.mac.upper()}")
    out += ["ONBOOT=yes", f"BOOTPROTO={'dhcp' if c.dhcp4 or not c.static else 'none'}"]
    v4 = [a for a in c.addresses if ":" not in a]
    v6 = [a for a in c.addresses if ":" in a]
    for index, address in enumerate(v4):
        suffix = "" if index == 0 else str(index)
        ip, _, prefix = address.partition("/")
        out += [f"IPADDR{suffix}={ip}", f"PREFIX{suffix}={prefix or '24'}"]
    if v4 and c.gateway4:
        out.append(f"GATEWAY={c.gateway4}")
    for index, server in enumerate(c.dns[:3], start=1):
        out.append(f"DNS{index}={server}")
    if c.search:
        out.append(f'DOMAIN="{" ".join(c.search)}"')
    if v6 or c.dhcp6:
        out.append("IPV6INIT=yes")
        out.append(f"IPV6_AUTOCONF={'yes' if c.dhcp6 else 'no'}")
        if v6:
            out.append(f"IPV6ADDR={v6[0]}")
            if len(v6) > 1:
                out.append(f'IPV6ADDR_SECONDARIES="{" ".join(v6[1:])}"')
            if c.gateway6:
                out.append(f"IPV6_DEFAULTGW={c.gateway6}")
    else:
        out.append("IPV6INIT=no")
    return "\n".join(out) + "\n"


def write(tree: GuestTree, plans: list[NicPlan]) -> list[str]:
    """Move the ethernet ifcfg files aside and write one per NIC."""
    changes: list[str] = []
    for path, _values in _ethernet_files(tree):
        tree.backup(path)
        changes.append(f"network: moved {path} to the backup")
    for plan in plans:
        path = f"{DIR}/ifcfg-{plan.name}"
        tree.write(path, render(plan), mode=0o644)
        changes.append(f"network: ifcfg {plan.describe()} in {path}")
    return changes
