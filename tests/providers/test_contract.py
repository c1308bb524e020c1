"""The same checks over every registered provider: registration, schemas, roles, protocols."""

from __future__ import annotations

import pytest
from marshmallow import Schema

from providers.registry import all_providers
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
