"""Incremental sync through the service from a kvm source whose qcow2 disk tracks changes in a dirty bitmap."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from conversion import checksum
from tests.providers.kvm.domains import qemu_io_write, write_domain

MIB = 1 << 20
CHUNK = 64 << 10


def _execute(client, project, tid):
    resp = client.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
    assert resp.status_code == 202, resp.get_json()
    url = f"/v1/{project}/transfers/{tid}/executions/{resp.get_json()['execution']['id']}"
    deadline = time.monotonic() + 120
    while (execution := client.get(url).get_json()["execution"])["status"] not in ("COMPLETED", "ERROR", "CANCELED"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert execution["status"] == "COMPLETED", execution["last_error"]
    [result] = [t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
    return execution, result


def test_three_executions_read_and_write_only_the_bitmaps_changes(live_client, workers, tmp_path):
    domains = tmp_path / "domains"
    write_domain(domains, "web", [("web.qcow2", "qcow2", "vda", "virtio", 64 * MIB)])
    image = domains / "web.qcow2"
    qemu_io_write(image, "qcow2", [(i * MIB, MIB, 0x20 + i % 200) for i in range(0, 64, 3)])

    project = f"kvmsrc-{uuid.uuid4().hex[:8]}"
    src = {"endpoint": {"name": "libvirt", "type": "kvm", "connection_info": {"domains_dir": str(domains)}}}
    dst = {"endpoint": {"name": "kvm", "type": "kvm", "connection_info": {"storage_dir": str(tmp_path / "kvm")}}}
    ids = []
    for body in (src, dst):
        resp = live_client.post(f"/v1/{project}/endpoints", json=body)
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["endpoint"]["id"])
    listed = live_client.get(f"/v1/{project}/endpoints/{ids[0]}/instances").get_json()
    assert [i["name"] for i in listed["instances"]] == ["web"]
    body = {"transfer": {"origin_endpoint_id": ids[0], "destination_endpoint_id": ids[1], "instances": ["web"]}}
    resp = live_client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["transfer"]["id"]

    writes = [None,
              [(i * 5 * MIB + 7 * CHUNK, CHUNK, 0xA0 + i) for i in range(12)],
              [(0, 2 * CHUNK, 0xB1), (40 * MIB, CHUNK, 0xB2), (64 * MIB - CHUNK, CHUNK, 0xB3)]]
    for number, batch in enumerate(writes, start=1):
        changed = qemu_io_write(image, "qcow2", batch) if batch else None
        execution, result = _execute(live_client, project, tid)
        assert execution["number"] == number and result["generation"] == number
        replica = Path(result["path"])
        assert replica.is_relative_to(tmp_path / "kvm")
        assert checksum(replica, "raw") == checksum(image, "qcow2") == result["checksum"]
        if changed is None:
            assert result["full"] and result["method"] == "full_copy"
        else:
            assert result["method"] == "changed_areas" and not result["full"]
            assert 0 < result["bytes_read"] <= 1.2 * changed, (result["bytes_read"], changed)
            assert 0 < result["bytes_written"] <= 1.2 * changed, (result["bytes_written"], changed)
    shown = live_client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"]
    assert [d["generation"] for d in shown["replica_disks"]] == [3]
