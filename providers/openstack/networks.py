"""Mapping source NICs to Neutron networks: one port per NIC, on the network the network map names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from providers.types import NicInfo, ProviderError

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


@dataclass(frozen=True)
class PortPlan:
    """A port to create: its network (name or id, as the map gives it), its MAC (None: Neutron picks)."""

    index: int
    network: str
    mac_address: str | None
    source_network: str


def normalize_mac(mac: str | None) -> str | None:
    """``mac`` as lower-case colon-separated hex, or None when it is not a usable unicast MAC."""
    if not mac:
        return None
    text = mac.strip().lower()
    if not _MAC_RE.match(text):
        return None
    digits = re.sub(r"[:-]", "", text)
    if int(digits[:2], 16) & 1 or digits == "0" * 12:  # multicast or null
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def plan_ports(nics: Sequence[NicInfo], network_map: Mapping[str, str], keep_macs: bool) -> list[PortPlan]:
    """One port per NIC on its mapped network; ``ProviderError`` naming every unmapped network.

    A map with a single entry and the key ``*`` sends every NIC to that network.

    Args:
        nics: the source's NICs, in order.
        network_map: source network name -> Neutron network name or id.
        keep_macs: give each port its NIC's MAC address.
    """
    missing = sorted({n.network_name for n in nics if n.network_name not in network_map} - {""})
    if missing and "*" not in network_map:
        known = ", ".join(sorted(network_map)) or "empty"
        raise ProviderError(f"network_map has no entry for source network(s) {', '.join(missing)} (map: {known})")
    plans = []
    for index, nic in enumerate(nics):
        target = network_map.get(nic.network_name) or network_map.get("*")
        if not target:
            raise ProviderError(f"NIC {index} has no source network name and network_map has no '*' entry")
        mac = normalize_mac(nic.mac_address) if keep_macs else None
        plans.append(PortPlan(index, target, mac, nic.network_name))
    return plans
