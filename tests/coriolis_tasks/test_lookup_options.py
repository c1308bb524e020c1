"""The worker's ``coriolis.control.lookup_options``: how a lookup's outcome becomes the API's answer (the
endpoint row and the provider are stand-ins here; the real clouds are in tests/providers/*/test_lookup.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from marshmallow import Schema, fields

from coriolis_tasks import inventory
from providers.registry import ProviderSpec
from providers.types import ProviderError


class Env(Schema):
    flavor = fields.String(load_default=None)


@dataclass
class Row:
    type: str = "fake"
    connection_info: Any = None
    project_id: str = "p"


class Looker:
    """A destination whose lookup does what the test says; it records the env it was made with."""

    outcome: Any = None
    made_with: dict | None = None

    def __init__(self, connection: dict, env: dict) -> None:
        Looker.made_with = env

    def lookup_options(self, names):
        if isinstance(Looker.outcome, BaseException):
            raise Looker.outcome
        return [{"name": "flavor", "values": ["small"], "asked": sorted(names or [])}]


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch):
    @contextlib.contextmanager
    def session_scope(_url):
        yield type("S", (), {"get": lambda self, model, key: Row()})()

    monkeypatch.setattr(inventory, "session_scope", session_scope)
    monkeypatch.setattr(inventory, "get_settings", lambda: type("C", (), {"database_url": "sqlite://"})())
    monkeypatch.setattr(inventory, "resolve_connection_info", lambda info, spec, project_id=None: {})
    spec = ProviderSpec("fake", "a stand-in", destination_environment_schema=Env, importer=Looker)
    monkeypatch.setattr(inventory, "get_provider", lambda name: spec)
    Looker.outcome = None


def test_the_values_and_the_env_the_schema_knows():
    answer = inventory.lookup_options.run("e1", "destination", {"flavor": "x", "title": "t"}, ["flavor"])
    assert answer == {"ok": True, "value": [{"name": "flavor", "values": ["small"], "asked": ["flavor"]}]}
    assert Looker.made_with == {"flavor": "x"}  # the GUI's title is not the provider's business


def test_a_cloud_error_is_a_502_with_the_providers_message():
    Looker.outcome = ProviderError("OpenStack: listing flavors failed: 503")
    answer = inventory.lookup_options.run("e1", "destination", None, None)
    assert answer == {"ok": False, "status": 502,
                      "message": "looking up destination options failed: OpenStack: listing flavors failed: 503"}


def test_an_untranslated_sdk_error_says_only_its_type():
    Looker.outcome = KeyError("Authorization: Bearer very-secret-token")
    answer = inventory.lookup_options.run("e1", "destination", None, None)
    assert answer["status"] == 502 and "KeyError" in answer["message"]
    assert "very-secret-token" not in answer["message"]


def test_a_role_the_provider_cannot_play_is_a_400():
    answer = inventory.lookup_options.run("e1", "source", None, None)
    assert answer["ok"] is False and "status" not in answer and "cannot act as a source" in answer["message"]
