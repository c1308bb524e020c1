"""Schemas, flavor choice and port planning of the openstack destination (no cloud needed)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from providers import netpolicy
from providers.openstack.flavors import Flavor, best_fit, by_name, disk_gb
from providers.openstack.networks import NewNetwork, normalize_mac, plan_ports
from providers.openstack.options import ConnectionSchema, TargetEnvironmentSchema
from providers.openstack.storage import mapped_volume_type, named_volume_types
from providers.types import DiskInfo, NicInfo, ProviderError

FLAVORS = [Flavor("1", "tiny", 1, 512, 1), Flavor("2", "small", 1, 2048, 20),
           Flavor("3", "medium", 2, 4096, 40), Flavor("5", "cpu", 2, 1024, 10), Flavor("6", "any-disk", 4, 1024, 0)]


def test_connection_needs_credentials_and_a_project(monkeypatch):
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))
    good = {"auth_url": "http://127.0.0.1:5000/v3", "username": "u", "password": "p", "project_name": "x"}
    assert ConnectionSchema().load(good)["user_domain_name"] == "Default"
    assert ConnectionSchema().load({"auth_url": good["auth_url"], "token": "t", "project_id": "abc"})["token"] == "t"
    with pytest.raises(ValidationError, match="token or a username"):
        ConnectionSchema().load({**good, "password": None})
    with pytest.raises(ValidationError, match="project_name or project_id"):
        ConnectionSchema().load({**good, "project_name": None})
    with pytest.raises(ValidationError, match="http"):
        ConnectionSchema().load({**good, "auth_url": "file:///etc/passwd"})
    assert "password" not in ConnectionSchema().dump(ConnectionSchema().load(good))


def test_auth_url_on_loopback_or_metadata_is_refused_by_default(monkeypatch):
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy())
    for url in ("http://127.0.0.1:5000/v3", "http://169.254.169.254/latest", "http://[::1]:5000/v3"):
        with pytest.raises(ValidationError, match="address"):
            ConnectionSchema().load({"auth_url": url, "token": "t", "project_id": "p"})


def test_target_environment_defaults_and_choices():
    env = TargetEnvironmentSchema().load({"network_map": {"VM Network": "prod"}})
    assert env["image_format"] == "qcow2" and env["disk_bus"] == "virtio" and env["keep_mac_addresses"] is True
    assert "network_map" in TargetEnvironmentSchema().fields  # so the API copies the migration's map in
    with pytest.raises(ValidationError):
        TargetEnvironmentSchema().load({"image_format": "vmdk"})
    with pytest.raises(ValidationError):
        TargetEnvironmentSchema().load({"boot_marker": "("})


def test_flavor_by_name_and_best_fit():
    assert by_name(FLAVORS, "medium").id == "3" and by_name(FLAVORS, "5").name == "cpu"
    with pytest.raises(ProviderError, match="'huge' does not exist"):
        by_name(FLAVORS, "huge")
    assert best_fit(FLAVORS, 1, 512, 1).name == "tiny"
    assert best_fit(FLAVORS, 2, 1024, 10).name == "cpu"
    assert best_fit(FLAVORS, 2, 1024, 30).name == "any-disk"  # a 0 GB flavor takes the image's size
    assert best_fit(FLAVORS, 2, 2000, None).name == "medium"
    with pytest.raises(ProviderError, match="no flavor fits 8 vCPUs"):
        best_fit(FLAVORS, 8, 512, None)
    assert disk_gb(1) == 1 and disk_gb(1024**3) == 1 and disk_gb(1024**3 + 1) == 2


def test_ports_follow_the_network_map():
    nics = [NicInfo("00:50:56:AB:CD:01", "VM Network"), NicInfo("00-50-56-ab-cd-02", "backend"),
            NicInfo("01:00:5e:00:00:01", "VM Network")]
    plans = plan_ports(nics, {"VM Network": "prod", "backend": "net-id-2"}, keep_macs=True)
    assert [(p.network, p.mac_address) for p in plans] == [
        ("prod", "00:50:56:ab:cd:01"), ("net-id-2", "00:50:56:ab:cd:02"), ("prod", None)]  # multicast MAC dropped
    assert all(p.mac_address is None for p in plan_ports(nics, {"*": "prod"}, keep_macs=False))
    with pytest.raises(ProviderError, match="no entry for source network.*backend"):
        plan_ports(nics, {"VM Network": "prod"}, keep_macs=True)
    assert normalize_mac("0050.56ab.cd01") is None and normalize_mac("00:00:00:00:00:00") is None


def test_network_map_values_name_a_network_or_ask_for_one():
    env = TargetEnvironmentSchema().load({"network_map": {
        "VM Network": "prod", "backend": {"id": "net-id-2"},
        "DC0_DVPG0": {"create": True, "cidr": "10.1.2.0/24", "name": "dvpg", "network_type": "vlan",
                      "vlan_id": 102, "gateway_ip": "10.1.2.254", "dns_nameservers": ["10.1.2.1"]},
        "lab": {"create": True, "cidr": "fd00:1::/64"},
    }})
    nets = env["network_map"]
    assert nets["VM Network"] == "prod" and nets["backend"] == "net-id-2"
    assert nets["DC0_DVPG0"] == NewNetwork(cidr="10.1.2.0/24", name="dvpg", gateway_ip="10.1.2.254",
                                           dns_nameservers=("10.1.2.1",), network_type="vlan", segmentation_id=102)
    assert nets["lab"] == NewNetwork(cidr="fd00:1::/64")
    plans = plan_ports([NicInfo("00:50:56:00:00:01", "DC0_DVPG0", vlan_id=7), NicInfo("00:50:56:00:00:02", "x")],
                       {"DC0_DVPG0": nets["DC0_DVPG0"], "*": nets["lab"]}, keep_macs=True)
    assert [(p.map_key, p.vlan_id, p.network) for p in plans] == [
        ("DC0_DVPG0", 7, nets["DC0_DVPG0"]), ("*", None, nets["lab"])]


@pytest.mark.parametrize(("value", "needle"), [
    ({"create": True, "cidr": "10.1.2.0/33"}, "cidr"),
    ({"create": True, "cidr": "10.1.2.5/24"}, "host bits"),
    ({"create": True, "cidr": "not-a-network"}, "cidr"),
    ({"create": True}, "cidr"),
    ({"create": False, "cidr": "10.1.2.0/24"}, "create"),
    ({"create": True, "cidr": "10.1.2.0/24", "gateway_ip": "10.9.9.1"}, "not in 10.1.2.0/24"),
    ({"create": True, "cidr": "10.1.2.0/24", "network_type": "vlan", "segmentation_id": 5000}, "4094"),
    ({"create": True, "cidr": "10.1.2.0/24", "network_type": "flat", "vlan_id": 5}, "no segmentation"),
    ({"create": True, "cidr": "10.1.2.0/24", "vlan_id": 5, "segmentation_id": 6}, "differ"),
    ({"create": True, "cidr": "10.1.2.0/24", "surprise": 1}, "surprise"),
    ({"name": "x"}, "id"),
    ("", "1 to 255"),
    (42, "network name or id"),
])
def test_bad_network_map_values_are_refused(value, needle):
    with pytest.raises(ValidationError, match=needle):
        TargetEnvironmentSchema().load({"network_map": {"VM Network": value}})


def test_storage_mappings_pick_a_volume_type_per_disk():
    mappings = TargetEnvironmentSchema().load({"storage_mappings": {
        "default": "hdd", "backend_mappings": [{"source": "LocalDS_0", "destination": "ssd"}],
        "disk_mappings": [{"disk_id": "2001", "destination": "gold"}]}})["storage_mappings"]
    on_ds = DiskInfo("2000", 1, storage_backend_identifier="LocalDS_0")
    assert mapped_volume_type("2000", on_ds, mappings) == "ssd"
    assert mapped_volume_type("2001", on_ds, mappings) == "gold"
    assert mapped_volume_type("2002", DiskInfo("2002", 1, storage_backend_identifier="other"), mappings) == "hdd"
    assert mapped_volume_type("2002", None, {}) is None
    assert named_volume_types(mappings) == {"hdd", "ssd", "gold"}
    with pytest.raises(ValidationError, match="destination"):
        TargetEnvironmentSchema().load({"storage_mappings": {"backend_mappings": [{"source": "LocalDS_0"}]}})


def test_target_profile_says_whether_macs_are_kept():
    from providers.openstack.destination import OpenStackImporter
    from providers.openstack.options import TargetOptions
    from providers.types import VmInfo

    vm = VmInfo(id="vm-1", name="web01")
    assert OpenStackImporter({}, TargetOptions()).target_profile(vm).keeps_macs is True
    assert OpenStackImporter({}, TargetOptions(keep_mac_addresses=False)).target_profile(vm).keeps_macs is False
