"""The stub's connection options read the same way by the API's schema and by its importer."""

from __future__ import annotations

import pytest

from providers.registry import get_provider
from providers.types import ProviderError


def test_a_null_the_api_accepts_means_the_default_in_the_importer_too():
    spec = get_provider("stub")
    info = {"storage_dir": None}
    assert spec.connection_schema().load(info)["storage_dir"] is None  # the API's check: null is allowed
    # the importer reads null as "not given": the worker fills in the operator's first allowed root,
    # and without one the importer says what it needs (never a default outside the allowed roots)
    with pytest.raises(ProviderError, match="needs storage_dir"):
        spec.importer(info, {})
    assert str(spec.importer({"storage_dir": "/srv/x"}, {}).root) == "/srv/x"
