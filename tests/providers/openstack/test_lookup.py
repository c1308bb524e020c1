"""The openstack destination's OptionLookup: the project's real flavors, key pairs, security groups, volume
types and availability zones, read from the test cloud (real Keystone, the Nova/Neutron/Cinder fake)."""

from __future__ import annotations

import uuid

import pytest

from providers.abilities import OptionLookup
from providers.types import ProviderError


def _by_name(options: list[dict]) -> dict[str, dict]:
    return {o["name"]: o for o in options}


def test_the_projects_own_resources_are_listed(tenant):
    fake, project = tenant.fake, tenant.project_id
    flavor = f"mig.huge-{uuid.uuid4().hex[:6]}"
    fid = fake.add_flavor(flavor, 64, 262144, 500)  # too big for any best fit: other tests keep their choice
    group = fake.add_security_group(project, "web")
    fake.add_keypair(project, "ops-key")
    fake.availability_zones.update({"zone-b": True, "zone-down": False})
    try:
        importer = tenant.importer()
        assert isinstance(importer, OptionLookup)
        options = _by_name(importer.lookup_options(None))
    finally:
        fake.flavors[:] = [f for f in fake.flavors if f["id"] != fid]
        for zone in ("zone-b", "zone-down"):
            fake.availability_zones.pop(zone)
    assert set(options) == {"flavor_name", "key_name", "security_groups", "volume_type", "availability_zone"}
    assert {flavor, "m1.tiny", "m1.large"} <= set(options["flavor_name"]["values"])
    assert options["key_name"]["values"] == ["ops-key"]
    groups = options["security_groups"]["values"]
    assert {"id": group, "name": "web"} in groups and [g["name"] for g in groups] == ["default", "web"]
    assert options["volume_type"]["values"] == ["__DEFAULT__", "hdd", "ssd"]
    assert options["availability_zone"]["values"] == ["nova", "zone-b"]  # a zone that is down is no choice
    assert all("config_default" not in o for o in options.values())


def test_only_the_options_asked_for_are_looked_up(tenant):
    before = len(tenant.fake.requests)
    options = tenant.importer().lookup_options(frozenset({"key_name", "not_an_option"}))
    assert options == [{"name": "key_name", "values": []}]
    asked = [path for _, path in tenant.fake.requests[before:]]
    assert any(p.endswith("/os-keypairs") for p in asked)
    assert not any("flavors" in p or "security-groups" in p or "types" in p for p in asked)


def test_a_refused_login_is_a_provider_error_without_the_password(tenant):
    secret = uuid.uuid4().hex
    importer = tenant.importer(tenant.connection_info(password=secret))
    with pytest.raises(ProviderError) as err:
        importer.lookup_options(None)
    assert "Keystone" in str(err.value) and secret not in str(err.value)
