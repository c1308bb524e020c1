"""End to end through the REST API and real workers: the real Debian guest's OVA migrates to AWS (moto).

moto stands for EC2 and EBS direct (its gaps bridged in tests/fixtures/moto_server.py); the guest is
morphed for EC2 (NVMe, ENA, cloud-init Ec2). There is no boot in the cloud: the destination's boot
is the instance reaching ``running``.
"""

from __future__ import annotations

import time
import uuid

import pytest

from conversion import checksum
from providers.aws.blocks import BLOCK, listed_blocks, read_blocks
from providers.aws.client import Aws
from providers.aws.options import load_connection
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import ensure_guest, make_ova_copy

pytestmark = [pytest.mark.slow, pytest.mark.root]


def migration_body(guest, library, account, **target) -> dict:
    return {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(library)}},
        "destination": {"type": "aws", "connection_info": account.moto.connection_info(),
                        "target_environment": target},
        "network_map": {guest.network_name: account.subnets["prod"]},
        "instances": [guest.ova.name],
    }}


def read_snapshot(aws: Aws, snapshot_id: str, size: int, path) -> None:
    with open(path, "wb") as out:
        out.truncate(size)
        for index, data in read_blocks(aws, snapshot_id, listed_blocks(aws, snapshot_id)):
            out.seek(index * BLOCK)
            out.write(data)
        out.truncate(size)


def test_ova_guest_migrates_to_aws(fleet, account, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = migration_body(guest, library, account, security_group_ids=[account.security_group],
                          key_name=account.key_name)
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert migration["transfer_result"][guest.ova.name]["boot"]["booted"] is True

    made = account.tagged(mid)
    assert len(made["instances"]) == 1 and len(made["images"]) == 1 and len(made["snapshots"]) == 1
    ec2 = account.moto.client("ec2")
    instance = ec2.describe_instances(InstanceIds=made["instances"])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running" and instance["ImageId"] == made["images"][0]
    assert [n["SubnetId"] for n in instance["NetworkInterfaces"]] == [account.subnets["prod"]]
    assert instance["KeyName"] == account.key_name

    # the snapshot's blocks, read back, hold exactly the content the import wrote (its checksum tag) ...
    snap = ec2.describe_snapshots(SnapshotIds=made["snapshots"])["Snapshots"][0]
    tags = {t["Key"]: t["Value"] for t in snap["Tags"]}
    aws = Aws(load_connection(account.moto.connection_info()))
    size = snap["VolumeSize"] << 30
    back = tmp_path / "from-ebs.raw"
    read_snapshot(aws, snap["SnapshotId"], size, back)
    with open(back, "r+b") as fh:  # the EBS volume is whole GiB; the guest's disk is what comes before
        fh.truncate(guest.raw.stat().st_size)
    assert checksum(back, "raw") == tags["coriolis_disk_checksum"]
    # ... which is the guest morphed for EC2: cloud-init reads the Ec2 datasource
    with open(back, "rb") as fh:
        found = False
        while chunk := fh.read(64 << 20):
            if b"datasource_list: [Ec2, None]" in chunk:
                found = True
                break
    assert found

    # the secret key reached no log and no response
    secret = account.moto.connection_info()["secret_access_key"]
    assert secret not in str(fleet.api.get(f"/v1/{project}/migrations/{mid}").get_json())
    for log in fleet.dir.glob("*.log"):
        assert secret not in log.read_text(errors="replace"), log


def test_a_failed_migration_leaves_nothing_in_aws(fleet, account, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = migration_body(guest, library, account)
    body["migration"]["network_map"] = {guest.network_name: "subnet-0123456789abcdef0"}  # no such subnet
    body["migration"]["skip_os_morphing"] = True
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "ERROR" and "InvalidSubnetID.NotFound" in migration["last_error"]
    # the disk had been written (unmorphed: the source's very content) and the image registered before
    # run_instances failed
    events = str(migration)
    assert f"zero blocks skipped; content checksum {checksum(guest.raw, 'raw')}" in events
    assert "registered from ebs-snapshot:" in events
    cleanup = [t for t in migration["tasks"] if t["task_type"] == "CLEANUP_INSTANCE_RESOURCES"]
    assert cleanup and all(t["status"] == "COMPLETED" for t in cleanup), cleanup
    assert account.tagged(mid) == {"instances": [], "volumes": [], "images": [], "snapshots": []}


def test_a_migration_cancelled_while_writing_its_snapshot_leaves_nothing_in_aws(fleet, account, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = migration_body(guest, library, account, parallel_writes=1)
    body["migration"]["skip_os_morphing"] = True
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    deadline = time.monotonic() + 600
    while not account.tagged(mid)["snapshots"]:  # the EBS snapshot is being written: cancel now
        assert time.monotonic() < deadline, "the import never started"
        time.sleep(0.2)
    assert fleet.api.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None}).status_code < 300
    migration = wait_finished(fleet.api, project, mid, timeout=600)
    assert migration["status"] == "CANCELED", migration["status"]
    assert "zero blocks skipped" not in str(migration)  # cancelled before the snapshot completed
    assert account.tagged(mid) == {"instances": [], "volumes": [], "images": [], "snapshots": []}
