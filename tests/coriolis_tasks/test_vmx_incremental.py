"""Incremental sync for real: a VMX folder whose flat disk a test writes into between executions."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

from conversion import checksum

CHUNK = 64 << 10
VMX = """displayName = "web"
numvcpus = "1"
memsize = "512"
guestOS = "debian12-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:01:02:03"
"""


def _write_chunks(flat: Path, indexes: list[int]) -> int:
    """Overwrite whole 64 KiB chunks with new random data; return the bytes changed."""
    with open(flat, "r+b") as fh:
        for index in indexes:
            fh.seek(index * CHUNK)
            fh.write(os.urandom(CHUNK))
    return len(set(indexes)) * CHUNK


def test_three_executions_with_writes_between_them(live_client, workers, tmp_path):
    folder = tmp_path / "library" / "web"
    folder.mkdir(parents=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat",
                    str(folder / "web.vmdk"), "64M"], check=True)
    (folder / "web.vmx").write_text(VMX)
    flat = folder / "web-flat.vmdk"
    _write_chunks(flat, list(range(0, 1024, 3)))  # about a third of the disk holds data

    project = f"vmx-{uuid.uuid4().hex[:8]}"
    src = {"endpoint": {"name": "lib", "type": "ova", "connection_info": {"path": str(tmp_path / "library")}}}
    dst = {"endpoint": {"name": "kvm", "type": "kvm", "connection_info": {"storage_dir": str(tmp_path / "kvm")}}}
    src_id = live_client.post(f"/v1/{project}/endpoints", json=src).get_json()["endpoint"]["id"]
    dst_id = live_client.post(f"/v1/{project}/endpoints", json=dst).get_json()["endpoint"]["id"]
    body = {"transfer": {"origin_endpoint_id": src_id, "destination_endpoint_id": dst_id, "instances": ["web"]}}
    resp = live_client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["transfer"]["id"]

    writes = [None, list(range(7, 1024, 97)), [1, 2, 500, 501, 1023]]
    for number, indexes in enumerate(writes, start=1):
        changed = _write_chunks(flat, indexes) if indexes else None
        resp = live_client.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
        assert resp.status_code == 202, resp.get_json()
        url = f"/v1/{project}/transfers/{tid}/executions/{resp.get_json()['execution']['id']}"
        deadline = time.monotonic() + 120
        while (execution := live_client.get(url).get_json()["execution"])["status"] not in (
            "COMPLETED", "ERROR", "CANCELED"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert execution["status"] == "COMPLETED", execution["last_error"]
        assert execution["number"] == number
        [result] = [t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
        replica = Path(result["path"])
        assert replica.is_relative_to(tmp_path / "kvm")
        assert checksum(replica, "raw") == checksum(flat, "raw") == result["checksum"]
        assert result["generation"] == number
        if changed is None:
            assert result["full"]
        else:
            assert not result["full"]
            assert 0 < result["bytes_written"] <= 1.2 * changed, (result["bytes_written"], changed)
