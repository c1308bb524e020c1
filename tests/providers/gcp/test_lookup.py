"""The gcp destination's OptionLookup: the machine types of the zone, read through the Compute fake."""

from __future__ import annotations

import pytest

from providers.abilities import OptionLookup
from providers.registry import get_provider
from providers.types import ProviderError
from tests.providers.gcp.conftest import gcp_connection

PROVIDER = get_provider("gcp")


def test_the_zones_machine_types_are_listed(gce_fake):
    gce_fake.machine_types.append({"name": "c3-highmem-176", "guestCpus": 176, "memoryMb": 1441792})
    try:
        importer = PROVIDER.importer(gcp_connection(gce_fake), {})
        assert isinstance(importer, OptionLookup)
        options = importer.lookup_options(frozenset({"machine_type", "nic_type"}))
    finally:
        gce_fake.machine_types.pop()
    assert options == [{"name": "machine_type", "values": ["c3-highmem-176", "e2-micro", "e2-standard-2",
                                                          "n2-standard-2", "n2-standard-4"]}]


def test_another_project_is_a_provider_error(gce_fake):
    connection = {**gcp_connection(gce_fake), "project_id": "someone-elses-1"}
    with pytest.raises(ProviderError, match="403"):
        PROVIDER.importer(connection, {}).lookup_options(None)
