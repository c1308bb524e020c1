"""Fixtures for the azure destination tests: Azurite for blobs, the hand-written ARM fake for disks, NICs and VMs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from providers import netpolicy
from providers.types import MigrationContext
from tests.fixtures.azure_arm_fake import FakeArm, azure_arm  # noqa: F401 (session fixture)
from tests.fixtures.azurite import ACCOUNT, KEY, Azurite, azurite  # noqa: F401 (session fixture)

SUBSCRIPTION, GROUP = "sub-0001", "coriolis-rg"


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    """Azurite and the fake listen on 127.0.0.1, which the SSRF guard refuses by default."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


def azure_connection(arm: FakeArm, blobs: Azurite) -> dict[str, str]:
    return {"subscription_id": SUBSCRIPTION, "tenant_id": arm.tenant_id, "client_id": arm.client_id,
            "client_secret": arm.client_secret, "resource_group": GROUP, "location": "westeurope",
            "storage_account": ACCOUNT, "storage_account_key": KEY, "management_endpoint": arm.url,
            "authority_endpoint": arm.url, "blob_endpoint": blobs.blob_endpoint}


@pytest.fixture(scope="session")
def azure_subnets(azure_arm) -> dict[str, str]:  # noqa: F811
    return {name: azure_arm.add_subnet(SUBSCRIPTION, GROUP, "vnet-1", name) for name in ("prod", "backend")}


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    staging = tmp_path / "staging"
    staging.mkdir()
    return MigrationContext(migration_id=f"mig{uuid.uuid4().hex[:8]}", instance="web-01", staging_dir=staging)
