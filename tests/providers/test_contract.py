"""The same checks over every registered provider: registration, schemas, roles, protocols."""

from __future__ import annotations

import pytest
from marshmallow import Schema

from providers.abilities import OptionLookup
from providers.registry import all_providers, made_class
from providers.types import Exporter, Importer

PROVIDERS = sorted(all_providers())


def test_the_known_providers_are_registered():
    assert {"stub", "ova", "kvm"} <= set(PROVIDERS)


@pytest.mark.parametrize("name", PROVIDERS)
def test_provider_contract(name, tmp_path):
    spec = all_providers()[name]
    assert spec.name == name and name.isalpha() and name.islower()
    assert spec.description
    assert spec.abilities, "a provider is a source, a destination or both"
    for schema in (spec.connection_schema, spec.source_environment_schema, spec.destination_environment_schema):
        assert issubclass(schema, Schema)
    connection = {"path": str(tmp_path), "storage_dir": str(tmp_path), "domains_dir": str(tmp_path)}
    connection = {k: v for k, v in connection.items() if k in spec.connection_schema().fields}
    if spec.exporter:
        assert isinstance(spec.exporter(connection, {}), Exporter)
    if spec.importer:
        assert isinstance(spec.importer(connection, {}), Importer)


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_api_sees_each_roles_abilities(name):
    """The API learns a role's abilities from the class its factory returns (no provider made, no SDK called): a
    factory must name that class, or an ability such as OptionLookup would never be asked for."""
    spec = all_providers()[name]
    for factory in (spec.exporter, spec.importer):
        if factory is None:
            continue
        made = made_class(factory)
        assert made is not None, f"{name}: {factory.__name__} names no class it returns"
        if callable(getattr(made, "lookup_options", None)):
            assert issubclass(made, OptionLookup)


def test_the_clouds_look_their_options_up():
    providers = all_providers()
    for name in ("openstack", "aws", "azure", "gcp"):
        assert issubclass(made_class(providers[name].importer), OptionLookup), name
    assert issubclass(made_class(providers["vsphere"].exporter), OptionLookup)
