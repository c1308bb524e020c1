"""Mapping source NICs to Neutron networks: one port per NIC, on the network the network map names
(an existing one, or one made for the source port group)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from providers.types import NicInfo, ProviderError

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


@dataclass(frozen=True)
class NewNetwork:
    """A Neutron network and its one subnet, made for a source network (a network_map value with ``create``).

    ``network_type``/``physical_network``/``segmentation_id`` become Neutron's provider attributes
    (admin-only in most clouds); a ``vlan`` network without a segmentation id takes the source port
    group's VLAN when the source knows it.
    """

    cidr: str
    name: str | None = None
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    network_type: str | None = None
    physical_network: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True)
class PortPlan:
    """A port to create: its network (a name or id as the map gives it, or one to make), its MAC
    (None: Neutron picks), and the source NIC's network and VLAN."""

    index: int
    network: str | NewNetwork
    mac_address: str | None
    source_network: str
    vlan_id: int | None = None
    map_key: str = ""


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


def plan_ports(
    nics: Sequence[NicInfo], network_map: Mapping[str, str | NewNetwork], keep_macs: bool
) -> list[PortPlan]:
    """One port per NIC on its mapped network; ``ProviderError`` naming every unmapped network.

    A map with a single entry and the key ``*`` sends every NIC to that network.

    Args:
        nics: the source's NICs, in order.
        network_map: source network name -> Neutron network name or id, or a ``NewNetwork``.
        keep_macs: give each port its NIC's MAC address.
    """
    missing = sorted({n.network_name for n in nics if n.network_name not in network_map} - {""})
    if missing and "*" not in network_map:
        known = ", ".join(sorted(network_map)) or "empty"
        raise ProviderError(f"network_map has no entry for source network(s) {', '.join(missing)} (map: {known})")
    plans = []
    for index, nic in enumerate(nics):
        key = nic.network_name if nic.network_name in network_map else "*"
        target = network_map.get(key)
        if not target:
            raise ProviderError(f"NIC {index} has no source network name and network_map has no '*' entry")
        mac = normalize_mac(nic.mac_address) if keep_macs else None
        plans.append(PortPlan(index, target, mac, nic.network_name, nic.vlan_id, key))
    return plans


def network_key(source_network: str) -> str:
    """What a made network's description holds to say which source network it stands for."""
    return f"coriolis_source_network={source_network}"
