"""End to end through the REST API and real workers: a VM of the (fake) VMM server holding the real Debian
guest's disk as a VHDX is exported from its Hyper-V host's share and converted; the converted disk holds
exactly the source's content (checked by checksum; no second boot: the hyperv test boots this guest).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from conversion import checksum
from coriolis_tasks.pipeline import QUEUES
from tests.coriolis_tasks.fleets import Fleet, private_database
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import ensure_guest
from tests.fixtures.hyperv_model import FakeDisk, FakeNic, FakeVm
from tests.providers.hyperv.conftest import host_path
from tests.providers.scvmm.conftest import HYPERV_HOST

pytestmark = [pytest.mark.slow, pytest.mark.root]


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with private_database("scvmm") as url:
        fleet = Fleet("scvmm", url, {"all": (",".join(QUEUES), 3)}, {"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "1"})
        try:
            fleet.start_api()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()


def test_scvmm_vm_is_exported_and_converted_with_its_content(fleet, model, share_disks, vmm_connection, tmp_path):
    guest = ensure_guest()
    target = share_disks["folder"] / "scvmm-guest.vhdx"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vhdx", str(guest.raw), str(target)], check=True)
    vm = model.add(FakeVm("vmm-guest", [FakeDisk(host_path(target.name), guest.raw.stat().st_size, "IDE", 0, 0)],
                          [FakeNic(guest.mac, "External")], host=HYPERV_HOST))
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    resp = fleet.api.post(f"/v1/{project}/migrations", json={"migration": {
        "origin": {"type": "scvmm", "connection_info": vmm_connection},
        "destination": {"type": "stub", "connection_info": {"storage_dir": str(tmp_path / "stub")}},
        "instances": ["vmm-guest"],
    }})
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=600)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    tasks = {t["task_type"]: t for t in migration["tasks"]}
    assert tasks["CONVERT_DISK"]["result"]["checksum"] == checksum(guest.raw, "raw")
    assert tasks["CONVERT_DISK"]["result"]["format"] == "qcow2"
    assert migration["transfer_result"]["vmm-guest"]["boot"]["booted"] is True  # the stub re-verifies the disk
    assert [op for op, _, _ in model.log if op == "scvmm-create-checkpoint"] == ["scvmm-create-checkpoint"]
    assert model.checkpoint_names("vmm-guest") == [] and vm.disks[0].path == host_path(target.name)
