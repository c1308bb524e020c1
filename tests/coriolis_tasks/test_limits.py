"""Per-source read limits: with one read slot per source host, exports queue up visibly as WAITING."""

from __future__ import annotations

import time
import uuid

from tests.coriolis_tasks.fleets import Fleet
from tests.coriolis_tasks.helpers import get_migration, stub_migration

FINISHED = {"COMPLETED", "ERROR", "CANCELED"}


def test_one_read_slot_serializes_exports_from_one_source(two_nodes: Fleet, tmp_path):
    """The fleet allows one read per source (``max_parallel_reads_per_source=1``), three exports ask."""
    api, project = two_nodes.api, f"limits-{uuid.uuid4().hex[:8]}"
    resp = api.post(f"/v1/{project}/endpoints", json={"endpoint": {"name": "src", "type": "stub"}})
    assert resp.status_code == 201, resp.get_json()
    endpoint_id = resp.get_json()["endpoint"]["id"]
    mids = []
    for n in range(3):
        body = stub_migration([f"vm-{n}"], storage_dir=str(tmp_path))
        migration = body["migration"]
        del migration["origin"]
        migration["origin_endpoint_id"] = endpoint_id
        migration["source_environment"] = {"disk_size_mb": 16, "rate_mbps": 4}  # 2 s of reading each
        resp = api.post(f"/v1/{project}/migrations", json=body)
        assert resp.status_code == 202, resp.get_json()
        mids.append(resp.get_json()["migration"]["id"])

    most_running, waiting_messages = 0, set()
    deadline = time.monotonic() + 120
    while True:
        migrations = [get_migration(api, project, mid) for mid in mids]
        exports = [t for m in migrations for t in m["tasks"] if t["task_type"] == "EXPORT_DISK"]
        most_running = max(most_running, sum(t["status"] == "RUNNING" for t in exports))
        for task in exports:
            if task["status"] == "WAITING":
                waiting_messages.add(task["progress_updates"][-1]["message"])
        if all(m["status"] in FINISHED for m in migrations):
            break
        assert time.monotonic() < deadline, [(m["status"], [t["status"] for t in m["tasks"]]) for m in migrations]
        time.sleep(0.1)

    assert [m["status"] for m in migrations] == ["COMPLETED"] * 3, [m["last_error"] for m in migrations]
    assert most_running == 1
    assert f"waiting for a read slot on stub:{endpoint_id} (1 in use)" in waiting_messages, waiting_messages
    # the exports ran one after the other: no two overlapped in time
    spans = sorted((t["started_at"], t["finished_at"]) for m in migrations for t in m["tasks"]
                   if t["task_type"] == "EXPORT_DISK")
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
