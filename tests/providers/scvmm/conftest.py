"""The hyperv tests' WinRM fake and loopback smbd, answering as a VMM server whose VMs run on the smbd's host."""
# ruff: noqa: F811 - pytest fixtures imported from the hyperv conftest are parameters of the ones below

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.hyperv_model import FakeDisk, FakeNic, FakeVm, HypervModel
from tests.fixtures.winrm_fake import WinRMFake
from tests.providers.hyperv.conftest import (  # noqa: F401 - fixtures shared with the hyperv tests
    _allow_loopback_endpoints,
    connection,
    ctx,
    host_path,
    samba,
    share_disks,
    source_raw,
    winrm,
)

HYPERV_HOST = "127.0.0.1"  # the Hyper-V host VMM reports for the VMs: the smbd serves its C$


@pytest.fixture
def model(winrm: WinRMFake, share_disks: dict[str, Any]) -> HypervModel:
    """``app01`` on host 127.0.0.1 (two VHDX disks), ``db01`` with a pass-through disk."""
    fresh = HypervModel(winrm.model.username, winrm.model.password)
    size = share_disks["size"]
    fresh.add(FakeVm("app01", [
        FakeDisk(host_path("app.vhdx"), size, "SCSI", 0, 0),
        FakeDisk(host_path("data.vhdx"), share_disks["data_size"], "SCSI", 0, 1),
    ], [FakeNic("00:15:5d:00:00:01", "External", vlan=12)], generation=2, host=HYPERV_HOST))
    fresh.add(FakeVm("db01", [FakeDisk(host_path("app.vhdx"), size), FakeDisk(None, 0, "SCSI", 0, 0, disk_number=2)],
                     host=HYPERV_HOST))
    winrm.model = fresh
    return fresh


@pytest.fixture
def vmm_connection(connection: dict[str, Any]) -> dict[str, Any]:
    """The VMM server by name (localhost), so disk reads visibly go to the VM's host (127.0.0.1) instead."""
    return {**connection, "host": "localhost"}
