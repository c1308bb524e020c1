"""Inventory against vcsim: validate, list (name filter, templates), instance facts, option checks."""

from __future__ import annotations

import pytest

from providers import netpolicy
from providers.abilities import NetworkInventory
from providers.registry import get_provider
from providers.types import Exporter, Firmware, InstanceNotFound, OsType, ProviderError
from providers.vsphere import make_exporter
from tests.providers.vsphere.conftest import HOT_VM, TEMPLATE_VM


@pytest.fixture
def exporter(vcsim, test_disks):
    return make_exporter(vcsim.connection_info, {})


def test_registered_under_both_names():
    assert get_provider("vsphere") is get_provider("vmware_vsphere")
    assert get_provider("vmware_vsphere").name == "vsphere"


def test_validate_and_about(exporter):
    assert isinstance(exporter, Exporter)
    exporter.validate()
    about = exporter.about()
    assert about["api_type"] == "VirtualCenter" and about["full_name"].startswith("VMware vCenter")


def test_list_flags_templates_and_filters_by_name(vcsim, exporter, test_disks):
    listed = {vm.name: vm for vm in exporter.list_instances()}
    assert {HOT_VM, TEMPLATE_VM} <= set(listed)
    assert listed[TEMPLATE_VM].is_template and listed[TEMPLATE_VM].summary()["is_template"] is True
    assert not listed[HOT_VM].is_template
    only = make_exporter(vcsim.connection_info, {"name_filter": "h0_vm"}).list_instances()
    assert sorted(vm.name for vm in only) == sorted(n for n in listed if "H0_VM" in n)
    assert [vm.name for vm in exporter.list_instances(name_filter="C0_RP0_VM2")] == ["DC0_C0_RP0_VM2"]
    assert [vm.name for vm in exporter.list_instances(templates="only")] == [TEMPLATE_VM]
    assert TEMPLATE_VM not in {vm.name for vm in exporter.list_instances(templates="exclude")}
    hidden = make_exporter(vcsim.connection_info, {"templates": "exclude"}).list_instances()
    assert {vm.name for vm in hidden} == set(listed) - {TEMPLATE_VM}
    with pytest.raises(ProviderError, match="templates"):
        exporter.list_instances(templates="some")


def test_instance_facts(exporter, test_disks):
    vm = exporter.get_instance(HOT_VM)
    assert vm.id == test_disks["hot"]
    assert exporter.get_instance(vm.id).name == HOT_VM
    assert vm.power_state == "poweredOn" and vm.firmware_type == Firmware.BIOS
    assert vm.guest_id == "otherGuest" and vm.os_type == OsType.UNKNOWN
    assert vm.num_cpu >= 1 and vm.memory_mb > 0
    disks = {d.id: d for d in vm.disks}
    flat = disks[str(test_disks["keys"]["flat"])]
    assert flat.path == "[LocalDS_0] coriolis-test/flat.vmdk"
    assert flat.size_bytes == test_disks["size"] and flat.unit_number == 1
    assert flat.storage_backend_identifier == "LocalDS_0" and flat.allocation_type == "thin"
    assert flat.controller_id in {c.id for c in vm.controllers}
    assert {c.type for c in vm.controllers} >= {"pvscsi", "ide"}
    assert vm.nics and all(n.mac_address.count(":") == 5 for n in vm.nics)
    assert vm.nics[0].network_name == "DC0_DVPG0" and vm.nics[0].model == "e1000"
    data = vm.to_dict()
    assert data["devices"]["disks"][0]["path"].startswith("[LocalDS_0]")


def test_unknown_instance(exporter):
    with pytest.raises(InstanceNotFound):
        exporter.get_instance("no-such-vm")


def test_loopback_refused_without_the_policy(vcsim, monkeypatch):
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy())
    with pytest.raises(ProviderError, match="loopback") as err:
        make_exporter(vcsim.connection_info, {}).validate()
    assert "pass" not in str(err.value)


def test_bad_options_are_provider_errors_without_the_password():
    with pytest.raises(ProviderError) as err:
        make_exporter({"host": "vc.example", "username": "u", "password": "s3cret", "port": 0}, {}).validate()
    assert "port" in str(err.value) and "s3cret" not in str(err.value)


def test_unreachable_endpoint(vcsim):
    info = {**vcsim.connection_info, "port": 1}
    with pytest.raises(ProviderError, match="cannot reach"):
        make_exporter(info, {}).validate()


def test_source_host_key_names_the_endpoint_and_the_esx_host(vcsim, exporter):
    vm = exporter.get_instance(HOT_VM)
    assert exporter.source_host_key(vm) == f"vsphere:127.0.0.1:{vcsim.port}/DC0_H0"


def test_networks_and_datastores_for_mappings(exporter):
    assert isinstance(exporter, NetworkInventory)
    networks = {n["name"]: n for n in exporter.list_networks()}
    # vcsim 0.24 flags its DVS uplink port group in none of the ways vCenter does (tag, config.uplink,
    # the switch's uplinkPortgroup), so it is listed here; vCenter's is left out.
    assert {"DC0_DVPG0", "VM Network"} <= set(networks) <= {"DC0_DVPG0", "VM Network", "DVS0-DVUplinks-9"}
    dvpg = networks["DC0_DVPG0"]
    assert dvpg["type"] == "DistributedVirtualPortgroup" and dvpg["id"].startswith("dvportgroup-")
    assert dvpg["vlan_id"] == 0 and dvpg["switch"] == "DVS0" and dvpg["accessible"] is True
    assert networks["VM Network"]["type"] == "Network" and networks["VM Network"]["id"].startswith("network-")
    (datastore,) = exporter.list_storage()
    assert datastore["name"] == "LocalDS_0" and datastore["id"]
    assert 0 < datastore["free_bytes"] <= datastore["capacity_bytes"]
    assert datastore["accessible"] is True and datastore["type"]


def test_read_slots_key_vsphere_reads_by_esxi_host(vcsim, exporter):
    from coriolis_tasks import read_slots

    vm = exporter.get_instance(HOT_VM)
    key = read_slots.source_key(None, exporter, vm)  # the exporter's key wins; the migration is not read
    assert key == f"vsphere:127.0.0.1:{vcsim.port}/DC0_H0"
    assert read_slots.limit_for(key, 4, "DC0_H0=1") == 1
    assert read_slots.limit_for(key, 4, f"vsphere:127.0.0.1:{vcsim.port}=2") == 2
