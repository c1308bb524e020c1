"""Schemas, flavor choice and port planning of the openstack destination (no cloud needed)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from providers import netpolicy
from providers.openstack.flavors import Flavor, best_fit, by_name, disk_gb
from providers.openstack.networks import normalize_mac, plan_ports
from providers.openstack.options import ConnectionSchema, TargetEnvironmentSchema
from providers.types import NicInfo, ProviderError

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
