"""Shared disks for the ova provider tests, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.types import MigrationContext
from tests.providers.ova.appliance import MIB, make_raw, make_vmdk


@pytest.fixture(scope="session")
def source_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8 MiB sparse raw disk with 3 MiB of random data."""
    return make_raw(tmp_path_factory.mktemp("disks") / "source.raw", 8 * MIB, 3 * MIB)


@pytest.fixture(scope="session")
def stream_vmdk(source_raw: Path) -> Path:
    """``source_raw`` as a streamOptimized VMDK (the OVA disk format)."""
    return make_vmdk(source_raw, source_raw.with_name("source.vmdk"))


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    return MigrationContext(migration_id="m1", instance="web01", staging_dir=tmp_path / "staging")
