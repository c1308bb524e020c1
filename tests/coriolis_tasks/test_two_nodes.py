"""One migration across two worker nodes: separate processes, distinct node names, shared staging."""

from __future__ import annotations

import uuid
from pathlib import Path

from conversion import checksum
from tests.coriolis_tasks.fleets import Fleet
from tests.coriolis_tasks.helpers import stub_migration, wait_finished

ON_NODE_A = {"EXPORT_DISK", "CONVERT_DISK"}
ON_NODE_B = {"GET_INSTANCE_INFO", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE", "FINALIZE_INSTANCE_DEPLOYMENT"}


def test_stages_of_one_migration_run_on_both_nodes(two_nodes: Fleet, tmp_path):
    api = two_nodes.api
    project = f"nodes-{uuid.uuid4().hex[:8]}"
    body = stub_migration(["vm-2n"], {"disks": 2, "disk_size_mb": 8}, storage_dir=str(tmp_path))
    resp = api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(api, project, mid, 90)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    hosts = {t["task_type"]: set() for t in migration["tasks"]}
    for task in migration["tasks"]:
        hosts[task["task_type"]].add(task["host"])
    node_a, node_b = two_nodes.node_name("node-a"), two_nodes.node_name("node-b")
    for task_type in ON_NODE_A:
        assert hosts[task_type] == {node_a}, (task_type, hosts[task_type])
    for task_type in ON_NODE_B:
        assert hosts[task_type] == {node_b}, (task_type, hosts[task_type])
    # the disks node-a wrote to the shared staging reached node-b intact: boot verified them
    result = migration["transfer_result"]["vm-2n"]
    assert result["boot"]["booted"] is True
    assert [checksum(Path(d["path"]), d["format"]) for d in result["disks"]] == [d["checksum"] for d in result["disks"]]
    assert not (two_nodes.staging / mid).exists()
