"""API route tests run without workers: dispatching is recorded instead of sent to the broker."""

import pytest


@pytest.fixture(autouse=True)
def dispatched(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr("coriolis_api.resources.migrations.service.dispatch", sent.append)
    return sent
