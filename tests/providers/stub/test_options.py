"""The stub's connection options read the same way by the API's schema and by its importer."""

from __future__ import annotations

from providers.registry import get_provider
from providers.stub.options import DEFAULT_STORAGE_DIR


def test_a_null_the_api_accepts_is_accepted_by_the_importer():
    spec = get_provider("stub")
    info = {"storage_dir": None}
    assert spec.connection_schema().load(info)["storage_dir"] is None  # the API's check: null is allowed
    importer = spec.importer(info, {})
    assert str(importer.root) == DEFAULT_STORAGE_DIR
    assert str(spec.importer({"storage_dir": "/srv/x"}, {}).root) == "/srv/x"
