"""Networks made for source port groups (network_map objects) against real Keystone and the Neutron fake."""

from __future__ import annotations

import dataclasses

from providers.types import NicInfo, NullReporter
from tests.providers.openstack.test_destination import staged_disk

NEW_NET = {"create": True, "cidr": "10.1.2.0/24", "network_type": "vlan", "dns_nameservers": ["10.1.2.1"]}


def networks_of(tenant, migration_id: str) -> list[dict]:
    return [n for n in tenant.listing("network/v2.0/networks", "networks") if migration_id in n["description"]]


def test_a_port_group_becomes_a_network_shared_by_the_migrations_instances(tenant, ctx, vm, tmp_path):
    vm = dataclasses.replace(vm, nics=(NicInfo("00:50:56:ab:cd:01", "VM Network", vlan_id=102),
                                       NicInfo("00:50:56:ab:cd:02", "backend")))
    net_map = {"VM Network": NEW_NET, "backend": "backend-net"}
    importer = tenant.importer(network_map=net_map)
    importer.validate()  # a network to make needs no lookup
    disk = importer.import_disk(vm, staged_disk(tmp_path), ctx, NullReporter())
    reporter = NullReporter()
    instance = importer.create_instance(vm, [disk], ctx, reporter)

    made = networks_of(tenant, ctx.migration_id)
    assert len(made) == 1, made
    net = made[0]
    assert net["name"] == f"coriolis-{ctx.migration_id}-VM-Network-{net['name'][-8:]}"
    assert net["description"] == f"coriolis_migration_id={ctx.migration_id} coriolis_source_network=VM Network"
    assert net["provider:network_type"] == "vlan" and net["provider:segmentation_id"] == 102  # the port group's VLAN
    subnets = [s for s in tenant.listing("network/v2.0/subnets", "subnets") if s["network_id"] == net["id"]]
    assert [(s["cidr"], s["dns_nameservers"], s["enable_dhcp"]) for s in subnets] == [
        ("10.1.2.0/24", ["10.1.2.1"], True)]
    ports = {p["id"]: p for p in tenant.listing("network/v2.0/ports", "ports")}
    assert [(ports[p["id"]]["network_id"], ports[p["id"]]["mac_address"]) for p in instance.details["ports"]] == [
        (net["id"], "00:50:56:ab:cd:01"), (tenant.networks["backend-net"], "00:50:56:ab:cd:02")]
    assert any("created for source network 'VM Network'" in m for _, m in reporter.events)

    # a second instance of the same migration reuses the network (and a repeated run of the first too)
    other = dataclasses.replace(ctx, instance="web-02")
    other_vm = dataclasses.replace(vm, name="web-02", nics=(NicInfo("00:50:56:ab:cd:03", "VM Network"),))
    second = importer.create_instance(other_vm, [disk], other, NullReporter())
    assert [p["network_id"] for p in second.details["ports"]] == [net["id"]]
    importer.create_instance(vm, [disk], ctx, NullReporter())
    assert [n["id"] for n in networks_of(tenant, ctx.migration_id)] == [net["id"]]
    assert len([s for s in tenant.listing("network/v2.0/subnets", "subnets") if s["network_id"] == net["id"]]) == 1

    # cleanup of one instance keeps the network the other still uses; the last one removes it and its subnet
    importer.cleanup(other)
    assert [n["id"] for n in networks_of(tenant, ctx.migration_id)] == [net["id"]]
    importer.cleanup(ctx)
    assert networks_of(tenant, ctx.migration_id) == []
    assert [s for s in tenant.listing("network/v2.0/subnets", "subnets") if s["network_id"] == net["id"]] == []
    assert tenant.leftovers(ctx.migration_id) == {"images": [], "servers": [], "ports": [], "volumes": []}
    assert tenant.networks["backend-net"] in {n["id"] for n in tenant.listing("network/v2.0/networks", "networks")}
    importer.cleanup(ctx)  # safe to repeat


def test_racing_instances_converge_on_the_oldest_network(tenant, ctx):
    from providers.openstack import portgroups
    from providers.openstack.networks import NewNetwork

    importer = tenant.importer()
    cloud = importer.cloud
    spec = NewNetwork(cidr="10.9.0.0/24", name="lab")
    wanted = portgroups.description(ctx.migration_id, "lab")
    # another instance created its network (and subnet) first, at an earlier time
    early = tenant.fake.add_network(tenant.project_id, "lab", description=wanted, created_at="2020-01-01T00:00:00Z")
    tenant.fake.add_subnet(tenant.project_id, early, "10.9.0.0/24")
    assert portgroups.ensure_network(cloud, spec, "lab", None, ctx.migration_id, "lab", NullReporter()) == early
    late = tenant.fake.add_network(tenant.project_id, "lab", description=wanted, created_at="2030-01-01T00:00:00Z")
    assert portgroups.ensure_network(cloud, spec, "lab", None, ctx.migration_id, "lab", NullReporter()) == early
    portgroups.delete_networks(cloud, ctx.migration_id)
    assert {early, late}.isdisjoint(n["id"] for n in tenant.listing("network/v2.0/networks", "networks"))
