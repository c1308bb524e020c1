"""What a destination project offers for mappings: its networks (with subnets) and Cinder volume types."""

from __future__ import annotations

from typing import Any

from providers.openstack.client import Cloud


def list_networks(cloud: Cloud) -> list[dict[str, Any]]:
    """Networks as ``{"id", "name", "cidr", "cidrs", "shared", "status", "network_type", "segmentation_id"}``.

    ``cidr`` is the first IPv4 subnet's (else the first subnet's), None without subnets.
    """
    subnets: dict[str, list[str]] = {}
    for subnet in sorted(cloud.subnets(), key=lambda s: (s.ip_version, s.name, s.id)):
        subnets.setdefault(subnet.network_id, []).append(subnet.cidr)
    out = []
    for network in sorted(cloud.networks(), key=lambda n: (n.name, n.id)):
        cidrs = subnets.get(network.id, [])
        out.append({
            "id": network.id, "name": network.name, "cidr": cidrs[0] if cidrs else None, "cidrs": cidrs,
            "shared": network.shared, "status": network.status, "network_type": network.network_type,
            "segmentation_id": network.segmentation_id,
        })
    return out


def list_storage(cloud: Cloud) -> list[dict[str, Any]]:
    """Cinder volume types as ``{"id", "name", "description"}`` (what ``storage_mappings`` name)."""
    return [{"id": t.id, "name": t.name, "description": t.description}
            for t in sorted(cloud.volume_types(), key=lambda t: (t.name, t.id))]
