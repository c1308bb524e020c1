"""Fixtures for the gcp destination tests: gcp-storage-emulator for the bucket, the Compute fake for the rest."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from providers import netpolicy
from providers.types import MigrationContext
from tests.fixtures.gce_fake import FakeCompute, gce_fake, gcs_emulator  # noqa: F401 (session fixtures)


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


def gcp_connection(fake: FakeCompute) -> dict:
    return {"project_id": fake.project, "zone": fake.zone, "bucket": "coriolis-images",
            "service_account_key": fake.key, "compute_endpoint": fake.url,
            "storage_endpoint": fake.storage.url}  # type: ignore[union-attr]


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    staging = tmp_path / "staging"
    staging.mkdir()
    return MigrationContext(migration_id=f"mig{uuid.uuid4().hex[:8]}", instance="web-01", staging_dir=staging)
