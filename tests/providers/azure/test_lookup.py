"""The azure destination's OptionLookup: the VM sizes the location offers, read through the ARM fake."""

from __future__ import annotations

import pytest

from providers.abilities import OptionLookup
from providers.registry import get_provider
from providers.types import ProviderError
from tests.providers.azure.conftest import azure_connection

PROVIDER = get_provider("azure")


def test_the_locations_vm_sizes_are_listed(azure_arm, azurite):
    azure_arm.sizes.append({"name": "Standard_E64s_v5", "numberOfCores": 64, "memoryInMB": 524288})
    try:
        importer = PROVIDER.importer(azure_connection(azure_arm, azurite), {})
        assert isinstance(importer, OptionLookup)
        options = importer.lookup_options(None)
        assert importer.lookup_options(frozenset({"disk_sku"})) == []  # fixed choices: the schema's, not the cloud's
    finally:
        azure_arm.sizes.pop()
    assert options == [{"name": "vm_size", "values": ["Standard_B1s", "Standard_B2s", "Standard_D2s_v3",
                                                      "Standard_D4s_v3", "Standard_E64s_v5"]}]


def test_a_refused_login_is_a_provider_error_without_the_secret(azure_arm, azurite):
    connection = {**azure_connection(azure_arm, azurite), "client_secret": "not-the-secret-0123"}
    with pytest.raises(ProviderError) as err:
        PROVIDER.importer(connection, {}).lookup_options(None)
    assert "login refused (401)" in str(err.value) and "not-the-secret-0123" not in str(err.value)
