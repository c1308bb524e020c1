"""Fixtures for the kvm destination tests: an importer on tmp dirs, a source VM, a boot kit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from providers.kvm import PROVIDER
from providers.kvm.destination import KvmImporter
from providers.types import DiskInfo, MigrationContext, NicInfo, VmInfo
from tests.providers.kvm.bootkit import BootKit, make_bootkit

MIB = 1024 * 1024


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    staging = tmp_path / "staging"
    staging.mkdir()
    return MigrationContext(migration_id="mig1", instance="web-01", staging_dir=staging)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "store"


HOST_KEYS = ("qemu_binary", "ovmf_code", "ovmf_vars")  # operator settings (providers/hostconfig.py)
BUILT_IN_KEYS = ("kernel", "initrd")  # direct kernel boot: set in code, never by a tenant


@pytest.fixture
def importer(storage: Path) -> Callable[..., KvmImporter]:
    """``importer(**target_environment)``; connection_info uses the tmp storage dir.

    ``connection`` may carry the operator's host settings and ``target`` a direct kernel boot: neither
    is tenant input any more, so they are set on the built importer, as the operator's config would.
    """

    def make(connection: dict | None = None, **target: object) -> KvmImporter:
        info = {"storage_dir": str(storage), **(connection or {})}
        host = {k: info.pop(k) for k in HOST_KEYS if k in info}
        built_in = {k: target.pop(k) for k in BUILT_IN_KEYS if k in target}
        kvm = PROVIDER.importer(info, target)  # type: ignore[misc]
        kvm.connection = replace(kvm.connection, **host)
        kvm.options = replace(kvm.options, **built_in)
        return kvm  # type: ignore[return-value]

    return make


@pytest.fixture
def vm() -> VmInfo:
    return VmInfo(
        id="vm-42",
        name="web-01",
        num_cpu=2,
        memory_mb=768,
        disks=(DiskInfo(id="disk-2000", size_bytes=32 * MIB), DiskInfo(id="disk-2001", size_bytes=16 * MIB)),
        nics=(
            NicInfo(mac_address="00:50:56:AB:CD:01", network_name="VM Network"),
            NicInfo(mac_address="00-50-56-ab-cd-02", network_name="backend"),
        ),
    )


def write_image(path: Path, size: int, head: bytes = b"", at: tuple[int, ...] = (0,)) -> Path:
    """A sparse raw image of ``size`` bytes with ``head`` written at each offset in ``at``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as image:
        for offset in at:
            image.seek(offset)
            image.write(head)
        image.truncate(size)
    return path


@pytest.fixture(scope="session")
def bootkit(tmp_path_factory: pytest.TempPathFactory) -> BootKit:
    if not shutil.which("qemu-system-x86_64"):
        pytest.fail("qemu-system-x86_64 is not installed (deploy/packages/apt-test.txt)")
    kit = make_bootkit(tmp_path_factory.mktemp("bootkit"))
    if kit is None:
        pytest.fail("needs a kernel in /boot with its modules and busybox-static (deploy/packages/apt-test.txt)")
    return kit
