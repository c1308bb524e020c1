"""Transfers through real workers: full then incremental syncs, cancel safety, deployments, replica cleanup."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from conversion import checksum
from providers.stub.options import StubSourceSchema
from providers.stub.source import StubExporter
from providers.types import MigrationContext, NullReporter
from tests.coriolis_tasks.helpers import wait_for

FINISHED = {"COMPLETED", "ERROR", "CANCELED"}


@pytest.fixture()
def setup(live_client, tmp_path):
    project = f"tr-{uuid.uuid4().hex[:8]}"
    src = {"endpoint": {"name": "src", "type": "stub", "connection_info": {"instances": ["app-1"]}}}
    dst = {"endpoint": {"name": "dst", "type": "stub", "connection_info": {"storage_dir": str(tmp_path / "dest")}}}
    src_id = live_client.post(f"/v1/{project}/endpoints", json=src).get_json()["endpoint"]["id"]
    dst_id = live_client.post(f"/v1/{project}/endpoints", json=dst).get_json()["endpoint"]["id"]
    env = {"disks": 2, "disk_size_mb": 24, "data_fraction": 1.0}
    body = {"transfer": {"origin_endpoint_id": src_id, "destination_endpoint_id": dst_id, "instances": ["app-1"],
                         "source_environment": env, "destination_environment": {"disk_format": "qcow2"}}}
    resp = live_client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 201, resp.get_json()
    return project, resp.get_json()["transfer"], tmp_path / "dest"


def _source_digest(env: dict, disk_id: str, tmp: Path) -> str:
    """What the stub source holds now, exported independently of the service."""
    exporter = StubExporter({"instances": ["app-1"]}, StubSourceSchema().load(env))
    vm = exporter.get_instance("app-1")
    ref = exporter.export_disk(vm, vm.disk(disk_id), MigrationContext("ref", "app-1", tmp), NullReporter())
    return checksum(Path(ref.path), "raw")


def _execute(client, project, transfer_id, body=None, wait=True):
    resp = client.post(f"/v1/{project}/transfers/{transfer_id}/executions", json={"execution": body or {}})
    assert resp.status_code == 202, resp.get_json()
    execution = resp.get_json()["execution"]
    if not wait:
        return execution
    url = f"/v1/{project}/transfers/{transfer_id}/executions/{execution['id']}"

    def done():
        return client.get(url).get_json()["execution"]

    deadline = time.monotonic() + 120
    while (current := done())["status"] not in FINISHED:
        assert time.monotonic() < deadline, current["status"]
        time.sleep(0.3)
    return current


def _replicate_results(execution):
    return {t["disk_id"]: t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"}


def test_executions_sync_fully_then_only_what_changed(live_client, workers, setup, tmp_path):
    project, transfer, _dest = setup
    tid = transfer["id"]
    first = _execute(live_client, project, tid)
    assert first["status"] == "COMPLETED", first["last_error"]
    assert first["number"] == 1 and first["action_id"] == tid
    results = _replicate_results(first)
    assert set(results) == {"disk0", "disk1"}
    chunks = (24 << 20) // (64 << 10)  # 64 KiB sync chunks of a 24 MiB disk full of data
    assert all(r["full"] and r["generation"] == 1 and r["chunks_written"] == chunks for r in results.values())
    env = transfer["source_environment"]
    for disk_id, result in results.items():
        assert checksum(Path(result["path"]), "raw") == _source_digest(env, disk_id, tmp_path / "a")

    # the source changes in two 1 MiB places of each disk
    changed = {**env, "data_version": 1, "mutated_chunks": [0, 5]}
    resp = live_client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"source_environment": changed}})
    assert resp.status_code == 200, resp.get_json()
    second = _execute(live_client, project, tid)
    assert second["status"] == "COMPLETED", second["last_error"]
    results = _replicate_results(second)
    for disk_id, result in results.items():
        assert result["chunks_total"] == chunks and result["bytes_written"] == 2 << 20
        assert result["chunks_written"] == 2 * (1 << 20) // (64 << 10)
        assert not result["full"] and result["generation"] == 2
        assert checksum(Path(result["path"]), "raw") == _source_digest(changed, disk_id, tmp_path / "b")

    shown = live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"]
    # the update between them is on record as an execution of its own (as upstream lists it)
    kinds = [(e["number"], e["type"]) for e in shown["executions"]]
    assert kinds == [(1, "transfer_execution"), (2, "transfer_update"), (3, "transfer_execution")]
    assert shown["last_execution_status"] == "COMPLETED"
    assert {d["generation"] for d in shown["replica_disks"]} == {2}
    listed = live_client.get(f"/v1/{project}/transfers/{tid}/executions?sort_key=created_at&sort_dir=asc")
    assert [e["number"] for e in listed.get_json()["executions"]] == [1, 2, 3]


def test_cancelled_execution_keeps_the_previous_replica_and_the_next_one_resumes(live_client, workers, setup):
    project, transfer, _dest = setup
    tid = transfer["id"]
    assert _execute(live_client, project, tid)["status"] == "COMPLETED"
    before = {d["disk_id"]: d for d in live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"][
        "replica_disks"]}
    slow = {**transfer["source_environment"], "rate_mbps": 3, "data_version": 7, "mutated_chunks": list(range(24))}
    live_client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"source_environment": slow}})
    running = _execute(live_client, project, tid, wait=False)
    # one unfinished execution at a time
    resp = live_client.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
    assert resp.status_code == 409 and running["id"] in resp.get_json()["error"]["message"]
    url = f"/v1/{project}/transfers/{tid}/executions/{running['id']}"
    deadline = time.monotonic() + 60
    while not any(t["task_type"] == "REPLICATE_DISK" and (t["progress"] or {}).get("percent")
                  for t in live_client.get(url).get_json()["execution"]["tasks"]):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert live_client.post(f"{url}/actions", json={"cancel": None}).status_code == 204
    deadline = time.monotonic() + 30
    while live_client.get(url).get_json()["execution"]["status"] != "CANCELED":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    after = {d["disk_id"]: d for d in live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"][
        "replica_disks"]}
    for disk_id, disk in before.items():
        replica = _replica_path(setup, tid, disk_id)
        assert after[disk_id]["generation"] == 1
        assert checksum(replica, "raw") == disk["checksum"]  # still the whole previous generation
    # the previous replica is still deployable (forced: the last execution did not complete)
    resp = live_client.post(f"/v1/{project}/deployments",
                            json={"deployment": {"transfer_id": tid, "force": True, "test_deployment": True}})
    assert resp.status_code == 202, resp.get_json()
    deployment = wait_for(live_client, project, resp.get_json()["deployment"]["id"],
                          lambda d: d["status"] in FINISHED, path="deployments")
    assert deployment["status"] == "COMPLETED", deployment["last_error"]
    assert deployment["transfer_result"]["app-1"]["boot"]["booted"] is True
    fast = {**slow, "rate_mbps": 0}
    live_client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"source_environment": fast}})
    resumed = _execute(live_client, project, tid)
    # numbers 2 and 4 are the updates, on record as completed executions
    assert resumed["status"] == "COMPLETED" and resumed["number"] == 5
    assert all(r["chunks_written"] > 0 for r in _replicate_results(resumed).values())
    assert {r["generation"] for r in _replicate_results(resumed).values()} == {2}


def _replica_path(setup, transfer_id: str, disk_id: str) -> Path:
    _project, _transfer, dest = setup
    from providers.stub.destination import StubImporter

    return StubImporter({"storage_dir": str(dest)}, {}).replica_dir(transfer_id, "app-1") / f"{disk_id}.raw"


def test_deployments_from_the_replica_and_test_deployment_cleanup(live_client, workers, setup):
    project, transfer, dest = setup
    tid = transfer["id"]
    resp = live_client.post(f"/v1/{project}/deployments", json={"deployment": {"transfer_id": tid}})
    assert resp.status_code == 409 and "no execution" in resp.get_json()["error"]["message"]
    assert _execute(live_client, project, tid)["status"] == "COMPLETED"
    replica = _replica_path(setup, tid, "disk0")
    digest = checksum(replica, "raw")

    ids = []
    for _ in range(2):  # a test deployment can be repeated
        resp = live_client.post(f"/v1/{project}/deployments",
                                json={"deployment": {"transfer_id": tid, "test_deployment": True}})
        assert resp.status_code == 202, resp.get_json()
        did = resp.get_json()["deployment"]["id"]
        deployment = wait_for(live_client, project, did, lambda d: d["status"] in FINISHED, path="deployments")
        assert deployment["status"] == "COMPLETED", deployment["last_error"]
        assert deployment["transfer_id"] == tid and deployment["test_deployment"] is True
        types = [t["task_type"] for t in deployment["tasks"]]
        assert "CLONE_DISK" in types and "REPLICATE_DISK" not in types and "EXPORT_DISK" not in types
        result = deployment["transfer_result"]["app-1"]
        assert result["boot"]["booted"] is True
        assert Path(result["details"]["path"]).exists()
        ids.append((did, Path(result["details"]["path"])))
    assert checksum(replica, "raw") == digest  # the replica is untouched
    for did, path in ids:
        assert live_client.delete(f"/v1/{project}/deployments/{did}").status_code == 204
        assert not path.exists()
        assert live_client.get(f"/v1/{project}/deployments/{did}").status_code == 404
    assert replica.exists()

    # deleting the replica disks (answered with the execution that did it), then the transfer
    resp = live_client.post(f"/v1/{project}/transfers/{tid}/actions", json={"delete-disks": None})
    assert resp.status_code == 200 and resp.get_json()["execution"]["status"] == "COMPLETED"
    assert not replica.exists()
    assert live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"]["replica_disks"] == []
    assert live_client.delete(f"/v1/{project}/transfers/{tid}").status_code == 204
    assert live_client.get(f"/v1/{project}/transfers/{tid}").status_code == 404


def test_auto_deploy_after_an_execution(live_client, workers, setup):
    project, transfer, _dest = setup
    tid = transfer["id"]
    execution = _execute(live_client, project, tid, {"auto_deploy": True})
    assert execution["status"] == "COMPLETED"
    deadline = time.monotonic() + 60
    while True:
        deployments = [d for d in live_client.get(f"/v1/{project}/deployments").get_json()["deployments"]
                       if d["transfer_id"] == tid]
        if deployments and deployments[0]["status"] in FINISHED:
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert deployments[0]["status"] == "COMPLETED", deployments[0]["last_error"]


def test_live_migration_syncs_while_running_then_powers_off_for_a_final_sync(live_client, workers, tmp_path):
    project = f"live-{uuid.uuid4().hex[:8]}"
    src = {"endpoint": {"name": "src", "type": "stub", "connection_info": {"instances": ["db-1"]}}}
    dst = {"endpoint": {"name": "dst", "type": "stub", "connection_info": {"storage_dir": str(tmp_path / "dest")}}}
    src_id = live_client.post(f"/v1/{project}/endpoints", json=src).get_json()["endpoint"]["id"]
    dst_id = live_client.post(f"/v1/{project}/endpoints", json=dst).get_json()["endpoint"]["id"]
    env = {"disks": 2, "disk_size_mb": 8}
    body = {"transfer": {"scenario": "live_migration", "origin_endpoint_id": src_id, "destination_endpoint_id": dst_id,
                         "instances": ["db-1"], "source_environment": env}}
    tid = live_client.post(f"/v1/{project}/transfers", json=body).get_json()["transfer"]["id"]
    execution = _execute(live_client, project, tid)
    assert execution["status"] == "COMPLETED", execution["last_error"]
    order = [t["task_type"] for t in sorted(execution["tasks"], key=lambda t: t["started_at"] or "")]
    assert order.index("SHUTDOWN_INSTANCE") > max(i for i, t in enumerate(order) if t == "REPLICATE_DISK")
    assert order.index("SHUTDOWN_INSTANCE") < min(i for i, t in enumerate(order) if t == "REPLICATE_DISK_FINAL")
    shutdown = next(t for t in execution["tasks"] if t["task_type"] == "SHUTDOWN_INSTANCE")
    assert shutdown["result"] == {"powered_off": True}
    finals = [t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK_FINAL"]
    assert len(finals) == 2 and all(r["generation"] >= 2 and r["bytes_written"] == 0 for r in finals)
    shown = live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"]
    assert {d["generation"] for d in shown["replica_disks"]} == {finals[0]["generation"]}
