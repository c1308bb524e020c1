"""Stub migrations through real Celery workers (one process per queue), real Redis and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from conversion import checksum
from tests.coriolis_tasks.helpers import get_migration, stub_migration, wait_finished, wait_for

STAGE_TYPES = [
    "EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE", "FINALIZE_INSTANCE_DEPLOYMENT",
]


@pytest.fixture()
def project() -> str:
    return f"flow-{uuid.uuid4().hex[:8]}"


def _start(client, project, body) -> str:
    resp = client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["migration"]["id"]


def _staging(workers, migration_id: str) -> Path:
    return Path(workers.settings.staging_dir) / migration_id


def test_two_instances_three_disks_complete_with_live_progress(live_client, workers, project, tmp_path):
    body = stub_migration(
        ["web-1", "db-1"],
        {"instance_disks": {"web-1": [24, 16], "db-1": [24]}, "rate_mbps": 12},
        storage_dir=str(tmp_path),
    )
    mid = _start(live_client, project, body)
    seen: dict[str, list[float]] = {}
    overall: list[float] = []

    def watch(migration):
        overall.append(migration["progress"]["percent"])
        for task in migration["tasks"]:
            live = task["progress"] or {}
            if task["status"] == "RUNNING" and live.get("percent") is not None:
                seen.setdefault(task["id"], []).append(live["percent"])
        if migration["status"] == "RUNNING":
            assert _staging(workers, mid).exists() or not seen

    migration = wait_finished(live_client, project, mid, 120, on_poll=watch)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert migration["progress"]["percent"] == 100.0
    # progress rose while it ran: some task was seen at several increasing percentages
    rising = [v for v in seen.values() if len(set(v)) >= 3]
    assert rising, seen
    assert all(a <= b for values in rising for a, b in zip(values, values[1:], strict=False))
    assert overall == sorted(overall)

    tasks = migration["tasks"]
    assert all(t["status"] == "COMPLETED" for t in tasks)
    per_instance = {name: [t["task_type"] for t in tasks if t["instance"] == name] for name in ("web-1", "db-1")}
    assert per_instance["web-1"].count("EXPORT_DISK") == 2 and per_instance["db-1"].count("EXPORT_DISK") == 1
    assert set(STAGE_TYPES) <= set(per_instance["web-1"])
    # each stage ran on its own pool
    for task in tasks:
        queue = {"EXPORT_DISK": "export", "CONVERT_DISK": "convert", "OS_MORPHING": "morph",
                 "IMPORT_INSTANCE": "import", "BOOT_INSTANCE": "boot"}.get(task["task_type"])
        if queue:
            assert task["host"].startswith(f"{queue}-"), task
    # dependencies: convert waits for its export, morph for every convert of the instance
    by_id = {t["id"]: t for t in tasks}
    morph = next(t for t in tasks if t["task_type"] == "OS_MORPHING" and t["instance"] == "web-1")
    assert sorted(by_id[d]["task_type"] for d in morph["depends_on"]) == ["CONVERT_DISK", "CONVERT_DISK"]
    # the stage's steps and events were persisted to the database
    convert = next(t for t in tasks if t["task_type"] == "CONVERT_DISK")
    assert any("matches" in e["message"] for e in convert["events"])
    assert convert["progress_updates"][-1]["current_step"] == convert["progress_updates"][-1]["total_steps"]

    # the destination holds every disk, content identical to the source, and staging is gone
    result = migration["transfer_result"]
    assert set(result) == {"web-1", "db-1"}
    for instance in result.values():
        assert instance["boot"]["booted"] is True
        for disk in instance["disks"]:
            assert disk["format"] == "qcow2"
            assert checksum(Path(disk["path"]), "qcow2") == disk["checksum"]
    assert len(result["web-1"]["disks"]) == 2
    assert not _staging(workers, mid).exists()

    # a finished migration can be deleted, and is gone afterwards
    assert live_client.delete(f"/v1/{project}/migrations/{mid}").status_code == 204
    assert live_client.get(f"/v1/{project}/migrations/{mid}").status_code == 404


def test_cancel_mid_run_ends_canceled_and_cleans_up(live_client, workers, project, tmp_path):
    body = stub_migration(["slow-1"], {"disks": 2, "disk_size_mb": 64, "rate_mbps": 4}, storage_dir=str(tmp_path))
    mid = _start(live_client, project, body)
    wait_for(
        live_client, project, mid,
        lambda m: any(t["status"] == "RUNNING" and (t["progress"] or {}).get("percent") for t in m["tasks"]
                      if t["task_type"] == "EXPORT_DISK"),
        60,
    )
    assert _staging(workers, mid).exists()
    resp = live_client.delete(f"/v1/{project}/migrations/{mid}")
    assert resp.status_code == 409
    assert "cancel it first" in resp.get_json()["error"]["message"]

    asked = time.monotonic()
    resp = live_client.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None})
    assert resp.status_code == 204
    migration = wait_finished(live_client, project, mid, 30)
    assert migration["status"] == "CANCELED"
    assert time.monotonic() - asked < 10
    tasks = migration["tasks"]
    exports = [t for t in tasks if t["task_type"] == "EXPORT_DISK"]
    assert all(t["status"] == "CANCELED" for t in exports)
    assert all(t["status"] in ("CANCELED", "COMPLETED") for t in tasks if not t["on_error"])
    cleanup = [t for t in tasks if t["on_error"]]
    assert [t["status"] for t in cleanup] == ["COMPLETED"]
    assert not _staging(workers, mid).exists()
    assert list(tmp_path.iterdir()) == []
    # cancelling again is a conflict; deleting now works
    assert live_client.post(f"/v1/{project}/migrations/{mid}/action", json={"cancel": None}).status_code == 409
    assert live_client.delete(f"/v1/{project}/migrations/{mid}").status_code == 204


@pytest.mark.parametrize(
    ("stage", "source_env", "target_env", "needle"),
    [
        ("EXPORT_DISK", {"fail_export": True}, {}, "fail_export"),
        ("CONVERT_DISK", {"claim_format": "qcow2"}, {}, "qcow2"),
        ("OS_MORPHING", {}, {"morph": True}, ""),
        ("IMPORT_INSTANCE", {}, {"fail_import": True}, "fail_import"),
        ("BOOT_INSTANCE", {}, {"fail_boot": True}, "did not boot"),
    ],
)
def test_a_failure_in_each_stage_ends_error_with_cleanup(
    live_client, workers, project, tmp_path, stage, source_env, target_env, needle
):
    source = {"disks": 2, "disk_size_mb": 8, **source_env}
    body = stub_migration(["vm-x"], source, target_env, storage_dir=str(tmp_path))
    mid = _start(live_client, project, body)
    migration = wait_finished(live_client, project, mid, 90)
    assert migration["status"] == "ERROR"
    assert migration["last_error"].startswith(f"{stage} of instance 'vm-x'")
    assert needle in migration["last_error"]
    failed = [t for t in migration["tasks"] if t["status"] == "ERROR"]
    assert {t["task_type"] for t in failed} == {stage}
    assert failed[0]["exception_details"]
    assert any(e["level"] == "ERROR" for e in failed[0]["events"])
    later = STAGE_TYPES[STAGE_TYPES.index(stage) + 1 :]
    for task in migration["tasks"]:
        if task["task_type"] in later:
            assert task["status"] in ("UNSCHEDULED", "CANCELED"), task
    cleanup = [t for t in migration["tasks"] if t["on_error"]]
    assert [t["status"] for t in cleanup] == ["COMPLETED"]
    assert any("destination resources" in e["message"] for e in cleanup[0]["events"])
    assert not _staging(workers, mid).exists()
    assert list(tmp_path.iterdir()) == []


def test_get_shows_tasks_while_pending_and_running(live_client, workers, project, tmp_path):
    mid = _start(live_client, project, stub_migration(["vm-p"], {"disk_size_mb": 32, "rate_mbps": 16},
                                                       storage_dir=str(tmp_path)))
    first = get_migration(live_client, project, mid)
    assert first["status"] in ("PENDING", "RUNNING")
    assert first["tasks"][0]["task_type"] == "GET_INSTANCE_INFO"
    running = wait_for(live_client, project, mid, lambda m: any(t["task_type"] == "EXPORT_DISK" for t in m["tasks"]))
    assert running["info"]["vm-p"]["export_info"]["devices"]["disks"][0]["size_bytes"] == 32 << 20
    assert wait_finished(live_client, project, mid)["status"] == "COMPLETED"


def test_a_template_migrates_into_images_and_is_not_booted(live_client, workers, project, tmp_path):
    body = stub_migration(["golden", "web-2"], {"disks": 2}, storage_dir=str(tmp_path))
    body["migration"]["origin"]["connection_info"] = {"templates": ["golden"]}
    mid = _start(live_client, project, body)
    migration = wait_finished(live_client, project, mid, 120)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    result = migration["transfer_result"]
    assert result["golden"]["boot"]["booted"] is False and "template" in result["golden"]["boot"]["message"]
    assert result["web-2"]["boot"]["booted"] is True  # an ordinary VM of the same migration still boots
    events = [e["message"] for t in migration["tasks"] if t["instance"] == "golden" for e in t["events"]]
    assert any("kept as 2 image(s)" in m for m in events), events
    kept = list(tmp_path.rglob("template.json"))
    assert len(kept) == 1 and not any(p.parent == kept[0].parent for p in tmp_path.rglob("instance.json"))
