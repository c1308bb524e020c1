"""The openstack destination's NetworkInventory: networks with their subnets, Cinder volume types."""

from __future__ import annotations

from providers.abilities import NetworkInventory


def test_networks_and_volume_types_of_the_project(tenant):
    tenant.fake.add_subnet(tenant.project_id, tenant.networks["prod-net"], "192.168.10.0/24")
    tenant.fake.add_subnet(tenant.project_id, tenant.networks["prod-net"], "fd00:10::/64", ip_version=6)
    vlan = tenant.fake.add_network(tenant.project_id, "vlan-7", **{"provider:network_type": "vlan",
                                                                   "provider:segmentation_id": 7})
    importer = tenant.importer()
    assert isinstance(importer, NetworkInventory)

    networks = {n["name"]: n for n in importer.list_networks()}
    assert set(networks) == {"prod-net", "backend-net", "vlan-7"}
    prod = networks["prod-net"]
    assert prod["id"] == tenant.networks["prod-net"] and prod["cidr"] == "192.168.10.0/24"
    assert prod["cidrs"] == ["192.168.10.0/24", "fd00:10::/64"] and prod["status"] == "ACTIVE"
    assert networks["backend-net"]["cidr"] is None and networks["backend-net"]["cidrs"] == []
    assert (networks["vlan-7"]["id"], networks["vlan-7"]["network_type"], networks["vlan-7"]["segmentation_id"]) == (
        vlan, "vlan", 7)

    types = importer.list_storage()
    assert [t["name"] for t in types] == ["__DEFAULT__", "hdd", "ssd"]
    assert all(set(t) == {"id", "name", "description"} and t["id"] for t in types)
