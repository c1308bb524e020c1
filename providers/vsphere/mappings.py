"""Networks and datastores of a vSphere endpoint, for network maps and storage mappings."""

from __future__ import annotations

import logging
from typing import Any

from providers.vsphere.client import VsphereClient
from providers.vsphere.devices import network_type, vlan_of

log = logging.getLogger(__name__)


def _is_uplink(network: Any) -> bool:
    """A distributed switch's uplink port group carries no VMs; it is not offered for mappings."""
    if network_type(network) != "DistributedVirtualPortgroup":
        return False
    if any(getattr(tag, "key", None) == "SYSTEM/DVS.UPLINKPG" for tag in network.tag or ()):
        return True
    config = network.config
    if getattr(config, "uplink", False):
        return True
    dvs = getattr(config, "distributedVirtualSwitch", None)
    uplinks = getattr(getattr(dvs, "config", None), "uplinkPortgroup", None) or ()
    return any(group._moId == network._moId for group in uplinks)


def list_networks(client: VsphereClient) -> list[dict[str, Any]]:
    """Every VM network: ``id`` (managed object id), ``name``, ``type``, ``vlan_id``, ``switch``, ``accessible``."""
    out = []
    for network in client.networks():
        if _is_uplink(network):
            continue
        kind = network_type(network)
        switch = None
        if kind == "DistributedVirtualPortgroup":
            dvs = getattr(network.config, "distributedVirtualSwitch", None)
            switch = dvs.name if dvs is not None else None
        summary = network.summary
        out.append({
            "id": network._moId,
            "name": network.name,
            "type": kind,
            "vlan_id": vlan_of(network),
            "switch": switch,
            "accessible": bool(getattr(summary, "accessible", True)),
        })
    return sorted(out, key=lambda n: (n["name"], n["id"]))


def list_storage(client: VsphereClient) -> list[dict[str, Any]]:
    """Every datastore: ``id``, ``name``, ``capacity_bytes``, ``free_bytes``, ``type`` (VMFS, NFS, vsan...),
    ``accessible``."""
    out = []
    for datastore in client.datastores():
        summary = datastore.summary
        out.append({
            "id": datastore._moId,
            "name": datastore.name,
            "capacity_bytes": int(summary.capacity or 0),
            "free_bytes": int(summary.freeSpace or 0),
            "type": summary.type,
            "accessible": bool(summary.accessible),
        })
    return sorted(out, key=lambda d: (d["name"], d["id"]))
