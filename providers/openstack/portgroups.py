"""Neutron networks made for source port groups: found or created once per migration, removed on failure.

A network made for a migration carries ``coriolis_migration_id=<id> coriolis_source_network=<name>``
in its description (ports carry the migration and the instance), so every instance of the migration
reuses it, a redelivered task finds it again, and cleanup finds what to delete. It is kept when the
migration succeeds: the migrated servers use it.
"""

from __future__ import annotations

from providers.openstack.client import Cloud, Network
from providers.openstack.networks import NewNetwork, network_key
from providers.types import ProviderError, Reporter

MIGRATION_KEY = "coriolis_migration_id"


def description(migration_id: str, source_network: str) -> str:
    """The description of the network made for ``source_network`` by a migration."""
    return f"{MIGRATION_KEY}={migration_id} {network_key(source_network)}"[:255]


def _prefix(migration_id: str) -> str:
    return f"{MIGRATION_KEY}={migration_id} "


def ensure_network(cloud: Cloud, spec: NewNetwork, source_network: str, vlan_id: int | None, migration_id: str,
                   name: str, reporter: Reporter) -> str:
    """The id of the network (with its subnet) made for ``source_network``; created when missing.

    Two instances of one migration may get here at once: each creates a network when it found
    none, then all keep the oldest one (by creation time, then id) and delete their own if it lost.

    Args:
        cloud: the destination project.
        spec: what the network_map asks for.
        source_network: the network_map key (the source port group, or ``*``).
        vlan_id: the source port group's VLAN, when known (used by a ``vlan`` network without an id).
        migration_id: tags the network.
        name: the network's name when the map gives none.
        reporter: what was created.
    """
    wanted = description(migration_id, source_network)
    found = [n for n in cloud.networks() if n.description == wanted]
    created: Network | None = None
    if not found:
        attrs: dict[str, object] = {"name": spec.name or name, "description": wanted}
        segment = spec.segmentation_id
        if segment is None and spec.network_type == "vlan":
            segment = vlan_id
        if spec.network_type:
            attrs["provider_network_type"] = spec.network_type
        if spec.physical_network:
            attrs["provider_physical_network"] = spec.physical_network
        if segment is not None:
            attrs["provider_segmentation_id"] = segment
        created = cloud.create_network(**attrs)
        reporter.info(f"network {created.name} ({created.id}) created for source network {source_network!r}"
                      + (f", segmentation id {segment}" if segment is not None else ""))
        found = [n for n in cloud.networks() if n.description == wanted] or [created]
    network = min(found, key=lambda n: (n.created_at, n.id))
    if created is not None and created.id != network.id:
        cloud.delete_network(created.id)
    _ensure_subnet(cloud, network, spec, reporter)
    return network.id


def _ensure_subnet(cloud: Cloud, network: Network, spec: NewNetwork, reporter: Reporter) -> None:
    if any(s.cidr == spec.cidr for s in cloud.subnets(network.id)):
        return
    attrs: dict[str, object] = {
        "network_id": network.id, "name": f"{network.name}-subnet"[:255], "cidr": spec.cidr,
        "ip_version": 6 if ":" in spec.cidr else 4, "is_dhcp_enabled": spec.enable_dhcp,
        "description": network.description,
    }
    if spec.gateway_ip:
        attrs["gateway_ip"] = spec.gateway_ip
    if spec.dns_nameservers:
        attrs["dns_nameservers"] = list(spec.dns_nameservers)
    try:
        subnet = cloud.create_subnet(**attrs)
    except ProviderError:  # another instance added it meanwhile (Neutron refuses an overlapping subnet)
        if any(s.cidr == spec.cidr for s in cloud.subnets(network.id)):
            return
        raise
    reporter.info(f"subnet {subnet.cidr} ({subnet.id}) created on network {network.name}")


def delete_networks(cloud: Cloud, migration_id: str) -> None:
    """Delete the networks a migration made, unless another instance of it still has ports on them.

    Call after the instance's servers and ports are gone; the last instance's cleanup deletes them.
    """
    prefix = _prefix(migration_id)
    mine = [n for n in cloud.networks() if n.description.startswith(prefix)]
    if not mine:
        return
    ports = cloud.ports()
    for network in mine:
        if any(p.network_id == network.id and p.description.startswith(prefix) for p in ports):
            continue
        cloud.delete_network(network.id)
