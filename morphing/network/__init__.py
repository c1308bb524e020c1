"""Guest network configuration: a neutral model, and the plan that ties it to the destination NICs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from providers.types import NicInfo

HEADER = "Written by Coriolis: NICs are matched by MAC address, as their names change on the new hypervisor."
_IFNAME = re.compile(r"[a-z][a-z0-9_-]{0,14}")


@dataclass
class IfaceConfig:
    """One ethernet interface's addressing, as read from any of the guest's config systems."""

    name: str | None = None
    mac: str | None = None
    dhcp4: bool = False
    dhcp6: bool = False
    addresses: list[str] = field(default_factory=list)
    gateway4: str | None = None
    gateway6: str | None = None
    dns: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)

    @property
    def static(self) -> bool:
        return bool(self.addresses)


@dataclass(frozen=True)
class NicPlan:
    """What to write for one destination NIC; ``mac`` None means "any ethernet NIC"."""

    name: str
    mac: str | None
    config: IfaceConfig

    def describe(self) -> str:
        c = self.config
        how = "static " + ", ".join(c.addresses) if c.static else "DHCP"
        if c.static and c.gateway4:
            how += f" via {c.gateway4}"
        who = f"MAC {self.mac}" if self.mac else "any ethernet NIC"
        return f"{self.name} ({who}): {how}"


def normalize_mac(mac: str | None) -> str | None:
    """``00-50-56-AA-BB-CC`` or ``00:50:56:aa:bb:cc`` → ``00:50:56:aa:bb:cc``."""
    if not mac:
        return None
    hexdigits = re.sub(r"[^0-9a-fA-F]", "", mac)
    if len(hexdigits) != 12:
        return None
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2)).lower()


def prefix_of(netmask: str) -> int:
    """``255.255.255.0`` → 24 (a plain number is returned as is)."""
    if netmask.isdigit():
        return int(netmask)
    return sum(bin(int(octet)).count("1") for octet in netmask.split("."))


def plan_nics(found: Sequence[IfaceConfig], nics: Sequence[NicInfo], preserve_static: bool) -> list[NicPlan]:
    """Decide each destination NIC's configuration.

    A NIC takes the source config with its MAC, else the one with its name, else the next
    config that names no MAC, in order. With ``preserve_static`` a static config is kept as it
    was; everything else gets DHCP (and IPv6 autoconfiguration where the source config had it).
    Without known NICs, one DHCP plan matches any ethernet NIC.

    Args:
        found: the interfaces configured in the guest, in file order.
        nics: the VM's NICs (the destination keeps their MACs).
        preserve_static: keep static addresses, gateway and DNS.
    """
    if not nics:
        names = [c.name for c in found if c.name]
        keep = next((c for c in found if c.static), None) if preserve_static else None
        config = keep if keep is not None else IfaceConfig(dhcp4=True)
        return [NicPlan(names[0] if names else "eth0", None, config)]
    unclaimed = list(found)
    plans: list[NicPlan] = []
    for index, nic in enumerate(nics):
        mac = normalize_mac(nic.mac_address)
        match = next((c for c in unclaimed if c.mac and c.mac == mac), None)
        if match is None and nic.name:
            match = next((c for c in unclaimed if c.name == nic.name and not c.mac), None)
        if match is None:
            match = next((c for c in unclaimed if not c.mac), None)
        if match is not None:
            unclaimed.remove(match)
        if match is not None and match.name:
            name = match.name
        elif nic.name and _IFNAME.fullmatch(nic.name):
            name = nic.name
        else:
            name = f"net{index}"
        if preserve_static and match is not None and match.static:
            config = IfaceConfig(
                name,
                mac,
                match.dhcp4,
                match.dhcp6,
                list(match.addresses),
                match.gateway4,
                match.gateway6,
                list(match.dns),
                list(match.search),
            )
        else:
            # DHCP; IPv6 autoconfiguration stays on where the source had it
            config = IfaceConfig(name, mac, dhcp4=True, dhcp6=bool(match is not None and match.dhcp6))
        plans.append(NicPlan(name, mac, config))
    return plans


def mac_warning(plans: Sequence[NicPlan], keeps_macs: bool) -> str | None:
    """The warning to give when the guest's config is matched by MAC but the destination changes the MACs."""
    bound = [p for p in plans if p.mac]
    if keeps_macs or not bound:
        return None
    macs = ", ".join(p.mac or "" for p in bound)
    return (
        f"network: the guest's network configuration is matched by MAC ({macs}) but the destination does not "
        "keep the source MACs: those NICs stay unconfigured unless the destination NICs are given these MACs"
    )
