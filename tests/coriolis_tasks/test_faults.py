"""Fault drills on real worker processes: killed pool children, a killed node, cancels, an API restart.

Every drill ends in a bounded time with a migration COMPLETED (content verified by the stub
destination's boot, which checksums every disk) or ERROR/CANCELED with its cleanup done.
OS morphing has no drill of its own: the stub has no guest to morph, so that stage is instant.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conversion import checksum
from tests.conftest import RUN_ID
from tests.coriolis_tasks.fleets import Fleet, HttpClient, descendants, kill_tree
from tests.coriolis_tasks.helpers import get_migration, stub_migration, wait_finished, wait_for

BIG = {"disk_size_mb": 1024, "data_fraction": 1.0}  # converting and verifying it takes seconds
SLOW_EXPORT = {"disk_size_mb": 32, "rate_mbps": 8}
SLOW_IMPORT = ({"disk_size_mb": 32}, {"rate_mbps": 8})


def _project() -> str:
    return f"drill-{uuid.uuid4().hex[:8]}"


def _start(api: HttpClient, project: str, body: dict) -> str:
    resp = api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["migration"]["id"]


def _running(api: HttpClient, project: str, mid: str, task_type: str, timeout: float = 60) -> dict:
    """The task of ``task_type`` once it is RUNNING with a known process."""
    found: dict = {}

    def check(migration: dict) -> bool:
        for task in migration["tasks"]:
            if task["task_type"] == task_type and task["status"] == "RUNNING" and task["process_id"]:
                found.update(task)
                return True
        assert migration["status"] in ("PENDING", "RUNNING"), (migration["status"], migration["last_error"])
        return False

    wait_for(api, project, mid, check, timeout)
    return found


def _pool_child(fleet: Fleet, task: dict) -> int:
    """The task's process, checked to be a pool child of the node named in its row."""
    node = task["host"].split("@")[0].removesuffix(f"-{RUN_ID}")
    pid = int(task["process_id"])
    assert pid in descendants(fleet.procs[node].pid), (task["host"], pid)
    return pid


def _assert_cleaned(fleet: Fleet, migration: dict, destination: Path) -> None:
    assert [t["status"] for t in migration["tasks"] if t["on_error"]] == ["COMPLETED"]
    assert not (fleet.staging / migration["id"]).exists()
    assert list(destination.iterdir()) == []


def _assert_intact(migration: dict, instance: str) -> None:
    result = migration["transfer_result"][instance]
    assert result["boot"]["booted"] is True
    for disk in result["disks"]:
        assert checksum(Path(disk["path"]), disk["format"]) == disk["checksum"]


@pytest.mark.parametrize(
    ("stage", "source_env", "target_env"),
    [
        ("EXPORT_DISK", SLOW_EXPORT, {}),
        ("CONVERT_DISK", BIG, {}),
        ("IMPORT_INSTANCE", *SLOW_IMPORT),
        ("BOOT_INSTANCE", BIG, {}),
    ],
)
def test_killed_pool_child_reruns_its_stage(two_nodes: Fleet, tmp_path, stage, source_env, target_env):
    api, project = two_nodes.api, _project()
    mid = _start(api, project, stub_migration(["vm-k"], source_env, target_env, storage_dir=str(tmp_path)))
    task = _running(api, project, mid, stage)
    pid = _pool_child(two_nodes, task)
    kill_tree(pid)  # the stage's process (and its qemu-img, if any) dies; the worker node lives
    migration = wait_finished(api, project, mid, 120)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    rerun = next(t for t in migration["tasks"] if t["id"] == task["id"])
    assert rerun["status"] == "COMPLETED"
    assert rerun["process_id"] != pid  # redelivered at once and run again by a fresh pool child
    _assert_intact(migration, "vm-k")


def test_killed_worker_node_is_reaped_and_cleaned_up(two_nodes: Fleet, tmp_path):
    api, project = two_nodes.api, _project()
    body = stub_migration(["vm-lost"], {"disk_size_mb": 64, "rate_mbps": 2}, storage_dir=str(tmp_path))
    mid = _start(api, project, body)
    task = _running(api, project, mid, "EXPORT_DISK")
    node_a = two_nodes.node_name("node-a")
    assert task["host"] == node_a
    killed = time.monotonic()
    two_nodes.kill_node("node-a")  # the main process and its pool: the message stays unacked
    try:
        migration = wait_finished(api, project, mid, 90)
        took = time.monotonic() - killed
        assert migration["status"] == "ERROR"
        assert f"worker {node_a} lost" in migration["last_error"]
        assert migration["last_error"].startswith("EXPORT_DISK of instance 'vm-lost' disk disk0 failed")
        row = next(t for t in migration["tasks"] if t["id"] == task["id"])
        assert row["status"] == "ERROR" and "lost" in row["exception_details"]
        assert all(t["status"] != "RUNNING" for t in migration["tasks"])
        _assert_cleaned(two_nodes, migration, tmp_path)
        assert took < 60, took  # lost_task_seconds is 4 here; the default is 60
    finally:
        two_nodes.start_node("node-a")
        two_nodes.wait_ready(["node-a"])


@pytest.mark.parametrize(
    ("stage", "source_env", "target_env"),
    [
        ("EXPORT_DISK", SLOW_EXPORT, {}),
        ("CONVERT_DISK", BIG, {}),
        ("IMPORT_INSTANCE", *SLOW_IMPORT),
        ("BOOT_INSTANCE", {**BIG, "disks": 3, "disk_size_mb": 512}, {}),
    ],
)
def test_cancel_during_each_stage(two_nodes: Fleet, tmp_path, stage, source_env, target_env):
    api, project = two_nodes.api, _project()
    mid = _start(api, project, stub_migration(["vm-c"], source_env, target_env, storage_dir=str(tmp_path)))
    _running(api, project, mid, stage)
    asked = time.monotonic()
    assert api.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None}).status_code == 204
    migration = wait_finished(api, project, mid, 30)
    assert migration["status"] == "CANCELED"
    assert time.monotonic() - asked < 10
    cancelled = next(t for t in migration["tasks"] if t["task_type"] == stage)
    assert cancelled["status"] == "CANCELED", cancelled
    _assert_cleaned(two_nodes, migration, tmp_path)


def test_api_restart_mid_migration_loses_nothing(two_nodes: Fleet, tmp_path):
    api, project = two_nodes.api, _project()
    body = stub_migration(["vm-api"], {"disk_size_mb": 64, "rate_mbps": 3}, storage_dir=str(tmp_path))
    mid = _start(api, project, body)
    _running(api, project, mid, "EXPORT_DISK")
    port = two_nodes.stop_api()
    stopped = datetime.now(UTC).replace(tzinfo=None)  # the API shows naive UTC times
    time.sleep(1)
    api = two_nodes.start_api(port)
    # on a loaded machine the API may take longer to come back than the rest of the pipeline to run:
    # what counts is that work went on while it was down and nothing was lost
    assert get_migration(api, project, mid)["status"] in ("RUNNING", "COMPLETED")
    migration = wait_finished(api, project, mid, 90)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    _assert_intact(migration, "vm-api")
    finished_while_down = [
        t["task_type"] for t in migration["tasks"]
        if t["finished_at"] and datetime.fromisoformat(t["finished_at"]).replace(tzinfo=None) > stopped]
    assert "BOOT_INSTANCE" in finished_while_down, finished_while_down

