"""End to end through the REST API and real workers: a Hyper-V generation 1 VM holding the real Debian guest's
disk as a VHDX migrates to KVM and boots on virtio; failed and cancelled migrations leave no checkpoint.

The Hyper-V host is the hand-written WinRM fake (no emulator exists); the disk bytes come over SMB from a
real smbd. The guest is BIOS, so the VM is generation 1 (generation 2 firmware mapping: test_inventory.py).
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conversion import checksum
from coriolis_tasks.pipeline import QUEUES
from tests.coriolis_tasks.fleets import Fleet, private_database
from tests.coriolis_tasks.helpers import wait_finished, wait_for
from tests.fixtures.guest import MARKER_REGEX, ensure_guest
from tests.fixtures.hyperv_model import FakeDisk, FakeNic, FakeVm
from tests.providers.hyperv.conftest import host_path

pytestmark = [pytest.mark.slow, pytest.mark.root]

VM_NAME = "coriolis-fixture-hv"


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with private_database("hyperv_kvm") as url:
        fleet = Fleet("hyperv-kvm", url, {"all": (",".join(QUEUES), 3)}, {"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "1"})
        try:
            fleet.start_api()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()


@pytest.fixture(scope="module")
def guest_vhdx(samba, share_disks) -> dict[str, Any]:
    """The guest's disk converted to a dynamic VHDX in the share."""
    guest = ensure_guest()
    target = share_disks["folder"] / "coriolis-fixture.vhdx"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic", str(guest.raw),
                    str(target)], check=True, capture_output=True)
    return {"guest": guest, "path": host_path(target.name), "size": guest.raw.stat().st_size}


@pytest.fixture
def hv_vm(model, guest_vhdx) -> FakeVm:
    guest = guest_vhdx["guest"]
    return model.add(FakeVm(VM_NAME, [FakeDisk(guest_vhdx["path"], guest_vhdx["size"], "IDE", 0, 0)],
                            [FakeNic(guest.mac, "External")], generation=1, cpus=1, memory=1 << 30))


def body(connection: dict[str, Any], storage: Path, instance: str, **source_env: Any) -> dict[str, Any]:
    # wait for the guest's marker line itself: under load the login prompt can come first
    target = {"preserve_static_ips": True, "boot_timeout": 420, "boot_marker": MARKER_REGEX}
    return {"migration": {
        "origin": {"type": "hyperv", "connection_info": connection},
        "destination": {"type": "kvm", "connection_info": {"storage_dir": str(storage)},
                        "target_environment": target},
        "source_environment": source_env,
        "instances": [instance],
    }}


def start(fleet: Fleet, project: str, payload: dict[str, Any]) -> str:
    resp = fleet.api.post(f"/v1/{project}/migrations", json=payload)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["migration"]["id"]


def test_hyperv_gen1_vm_migrates_to_kvm_and_boots_on_virtio(fleet, model, hv_vm, guest_vhdx, connection, tmp_path):
    guest = guest_vhdx["guest"]
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    mid = start(fleet, project, body(connection, tmp_path / "kvm", VM_NAME))
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    tasks = {t["task_type"]: t for t in migration["tasks"]}

    vm = migration["info"][VM_NAME]["export_info"]
    assert (vm["firmware_type"], vm["num_cpu"], vm["memory_mb"]) == ("BIOS", 1, 1024)
    assert [n["mac_address"] for n in vm["devices"]["nics"]] == [guest.mac.lower()]
    assert tasks["CONVERT_DISK"]["result"]["checksum"] == checksum(guest.raw, "raw")

    # read through one production checkpoint, merged away afterwards; the VM kept running
    created = [p for op, p, _ in model.log if op == "create-checkpoint"]
    assert [(p["name"], p["checkpointType"]) for p in created] == [(f"coriolis-{mid}", "ProductionOnly")]
    assert model.checkpoint_names(VM_NAME) == [] and hv_vm.state == "Running"
    assert hv_vm.disks[0].path == guest_vhdx["path"]

    boot = migration["transfer_result"][VM_NAME]["boot"]
    assert boot["booted"] is True
    marker = re.search(guest.marker_regex, boot["message"] + "\n" + boot["console_tail"])
    assert marker and marker["rootdev"] == "/dev/vda1", boot
    assert re.search(r"\w+:UP", marker["ifaces"]), marker["ifaces"]
    shown = str(fleet.api.get(f"/v1/{project}/migrations/{mid}").get_json())
    assert connection["password"] not in shown and connection["smb_password"] not in shown


def test_a_failed_hyperv_export_leaves_no_checkpoint(fleet, model, connection, share_disks, tmp_path):
    model.add(FakeVm("half-gone", [FakeDisk(host_path("app.vhdx"), share_disks["size"], "SCSI", 0, 0),
                                   FakeDisk(host_path("missing.vhdx"), share_disks["size"], "SCSI", 0, 1)],
                     generation=2))
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    mid = start(fleet, project, body(connection, tmp_path / "kvm", "half-gone"))
    migration = wait_finished(fleet.api, project, mid, timeout=300)
    assert migration["status"] == "ERROR"
    assert "missing.vhdx" in migration["last_error"]
    assert any(op == "create-checkpoint" for op, _, _ in model.log)
    assert model.checkpoint_names("half-gone") == []
    assert model.vms[-1].disks[0].path == host_path("app.vhdx")


def test_a_cancelled_hyperv_export_leaves_no_checkpoint(fleet, model, hv_vm, connection, tmp_path):
    release = model.holds["create-checkpoint"] = threading.Event()
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    mid = start(fleet, project, body(connection, tmp_path / "kvm", VM_NAME))
    try:
        deadline = time.monotonic() + 120
        while not model.checkpoint_names(VM_NAME) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert model.checkpoint_names(VM_NAME) == [f"coriolis-{mid}"], "the export is taking its checkpoint"
        resp = fleet.api.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None})
        assert resp.status_code in (200, 202, 204), resp.get_json()
        wait_for(fleet.api, project, mid, lambda m: m["status"] in ("CANCELLING", "CANCELED"), timeout=60)
    finally:
        release.set()
    migration = wait_finished(fleet.api, project, mid, timeout=300)
    assert migration["status"] == "CANCELED", migration["last_error"]
    assert model.checkpoint_names(VM_NAME) == [] and hv_vm.disks[0].path.endswith("coriolis-fixture.vhdx")


@pytest.mark.parametrize(("version", "method"), [("9.0", "changed_areas"), ("5.0", "hash_compare")])
def test_a_hyperv_transfer_syncs_only_what_changed(fleet, model, share_disks, connection, tmp_path, version, method):
    """Configuration version 8.0 and later: Resilient Change Tracking says what changed; older VMs: hash compare."""
    vhdx = share_disks["folder"] / f"transfer-{version}.vhdx"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vhdx", str(vhdx), "16M"], check=True)
    subprocess.run(["qemu-io", "-f", "vhdx", "-c", "write -P 0x11 0 4M", str(vhdx)], check=True, capture_output=True)
    vm = model.add(FakeVm("replicated", [FakeDisk(host_path(vhdx.name), 16 << 20, "SCSI", 0, 0)], generation=2,
                          version=version))
    project = f"tr-{uuid.uuid4().hex[:8]}"
    api = fleet.api
    src = api.post(f"/v1/{project}/endpoints", json={"endpoint": {
        "name": "hv", "type": "hyperv", "connection_info": connection}}).get_json()["endpoint"]["id"]
    dst = api.post(f"/v1/{project}/endpoints", json={"endpoint": {
        "name": "kvm", "type": "kvm", "connection_info": {"storage_dir": str(tmp_path / "kvm")}}}).get_json()
    resp = api.post(f"/v1/{project}/transfers", json={"transfer": {
        "origin_endpoint_id": src, "destination_endpoint_id": dst["endpoint"]["id"], "instances": ["replicated"]}})
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["transfer"]["id"]
    for number, write in enumerate([None, (8 << 20, 128 << 10)], start=1):
        if write:  # the guest writes 128 KiB at 8 MiB; RCT learns of it
            offset, length = write
            subprocess.run(["qemu-io", "-f", "vhdx", "-c", f"write -P 0x22 {offset} {length}", str(vhdx)],
                           check=True, capture_output=True)
            model.record_write("replicated", 0, offset, length)
        resp = api.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
        assert resp.status_code == 202, resp.get_json()
        eid = resp.get_json()["execution"]["id"]
        execution = wait_for(api, project, f"{tid}/executions/{eid}", lambda e: e["status"] in (
            "COMPLETED", "ERROR", "CANCELED"), timeout=300, path="transfers")
        assert execution["status"] == "COMPLETED", execution["last_error"]
        [result] = [t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
        assert checksum(Path(result["path"]), "raw") == checksum(vhdx, "vhdx") == result["checksum"]
        assert result["full"] is (number == 1)
        if number == 2:
            assert result["method"] == method
            assert 0 < result["bytes_written"] <= 256 << 10, result["bytes_written"]
    assert model.checkpoint_names("replicated") == [] and vm.disks[0].path == host_path(vhdx.name)
    assert sum(op == "create-checkpoint" for op, _, _ in model.log) == 2
    if method == "changed_areas":  # the committed reference point and its predecessor (the next sync destroys it)
        assert len(vm.reference_points) == 2


def test_a_hyperv_endpoint_through_the_api(fleet, model, connection):
    """Validation (good and bad credentials), instances, switches: from a worker, with clear answers."""
    project = f"ep-{uuid.uuid4().hex[:8]}"
    api = fleet.api
    made = {}
    for name, info in (("good", connection), ("bad", {**connection, "password": "Not-The-Password-9"})):
        resp = api.post(f"/v1/{project}/endpoints", json={"endpoint": {
            "name": name, "type": "hyperv", "connection_info": info}})
        assert resp.status_code == 201, resp.get_json()
        made[name] = resp.get_json()["endpoint"]["id"]
    answers = {}
    for name, eid in made.items():
        resp = api.post(f"/v1/{project}/endpoints/{eid}/actions", json={"validate-connection": None})
        assert resp.status_code == 200, resp.get_json()
        answers[name] = next(iter(resp.get_json().values()))
    assert answers["good"]["valid"] is True
    assert answers["bad"]["valid"] is False and "rejected the credentials" in answers["bad"]["message"]
    assert "Not-The-Password-9" not in str(answers)
    resp = api.get(f"/v1/{project}/endpoints/{made['good']}/instances?name=app")
    assert resp.status_code == 200, resp.get_json()
    assert [i["name"] for i in resp.get_json()["instances"]] == ["app01"]
    networks = api.get(f"/v1/{project}/endpoints/{made['good']}/networks").get_json()["networks"]
    assert [n["name"] for n in networks] == ["External", "Internal"]
    logs = "".join(p.read_text(errors="replace") for p in fleet.dir.glob("*.log"))
    assert connection["password"] not in logs and "Not-The-Password-9" not in logs
