"""A kvm guest -> AWS transfer through the API: the replica is an EBS snapshot, a second execution writes only the
changed blocks on a new snapshot over the first, and a deployment runs an instance from it."""

from __future__ import annotations

import time
import uuid

import pytest

from conversion import checksum
from providers.aws.blocks import BLOCK
from tests.coriolis_tasks.helpers import wait_for
from tests.providers.aws.test_ova_to_aws import read_snapshot
from tests.providers.kvm.domains import qemu_io_write, write_domain

MIB = 1 << 20

pytestmark = [pytest.mark.slow]


def _execute(api, project: str, tid: str) -> tuple[dict, dict]:
    resp = api.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
    assert resp.status_code == 202, resp.get_json()
    url = f"/v1/{project}/transfers/{tid}/executions/{resp.get_json()['execution']['id']}"
    deadline = time.monotonic() + 300
    while (execution := api.get(url).get_json()["execution"])["status"] not in ("COMPLETED", "ERROR", "CANCELED"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert execution["status"] == "COMPLETED", execution["last_error"]
    [result] = [t["result"] for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
    return execution, result


def test_kvm_guest_transfers_to_aws_snapshots(fleet, account, tmp_path):
    domains = tmp_path / "domains"
    write_domain(domains, "web", [("web.qcow2", "qcow2", "vda", "virtio", 64 * MIB)])
    image = domains / "web.qcow2"
    qemu_io_write(image, "qcow2", [(i * MIB, MIB, 0x20 + i) for i in range(0, 64, 4)])
    api, project = fleet.api, f"kvm2aws-{uuid.uuid4().hex[:8]}"
    ids = []
    for body in ({"name": "libvirt", "type": "kvm", "connection_info": {"domains_dir": str(domains)}},
                 {"name": "aws", "type": "aws", "connection_info": account.moto.connection_info()}):
        resp = api.post(f"/v1/{project}/endpoints", json={"endpoint": body})
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["endpoint"]["id"])
    body = {"transfer": {"origin_endpoint_id": ids[0], "destination_endpoint_id": ids[1], "instances": ["web"],
                         "network_map": {"default": account.subnets["prod"], "br-lan": account.subnets["backend"]},
                         "destination_environment": {"instance_type": "t3.micro"}}}
    resp = api.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 201, resp.get_json()
    tid = resp.get_json()["transfer"]["id"]
    ec2 = account.moto.client("ec2")
    flt = [{"Name": "tag:coriolis_replica_transfer_id", "Values": [tid]}]

    _, first = _execute(api, project, tid)
    assert first["method"] == "full_copy" and first["path"].startswith("ebs-snapshot:snap-")
    assert first["checksum"] == checksum(image, "qcow2")
    assert first["blocks_written"] == 32  # 16 MiB of data in 512 KiB blocks

    # the guest writes: 3 blocks touched (one write spans two of them)
    qemu_io_write(image, "qcow2", [(BLOCK + 4096, 8192, 0xA1), (10 * MIB - 4096, 8192, 0xA2)])
    _, second = _execute(api, project, tid)
    assert second["method"] == "changed_areas" and second["generation"] == 2
    assert second["blocks_written"] == 3 and second["bytes_written"] == 3 * BLOCK
    snaps = ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]
    assert [s["SnapshotId"] for s in snaps] == [second["path"].removeprefix("ebs-snapshot:")]  # the first is gone
    from providers.aws.client import Aws
    from providers.aws.options import load_connection

    back = tmp_path / "replica.raw"
    read_snapshot(Aws(load_connection(account.moto.connection_info())), snaps[0]["SnapshotId"], 64 * MIB, back)
    assert checksum(back, "raw") == checksum(image, "qcow2")

    # a deployment reads the replica snapshot back and runs an instance from it (no OS on this disk: no morph)
    resp = api.post(f"/v1/{project}/deployments",
                    json={"deployment": {"transfer_id": tid, "skip_os_morphing": True}})
    assert resp.status_code == 202, resp.get_json()
    did = resp.get_json()["deployment"]["id"]
    deployment = wait_for(api, project, did, lambda d: d["status"] in ("COMPLETED", "ERROR", "CANCELED"), 300,
                          path="deployments")
    assert deployment["status"] == "COMPLETED", deployment["last_error"]
    made = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:coriolis_migration_id", "Values": [did]}])[
        "Reservations"] for i in r["Instances"]]
    assert len(made) == 1 and made[0]["State"]["Name"] == "running" and made[0]["InstanceType"] == "t3.micro"
    assert sorted(n["SubnetId"] for n in made[0]["NetworkInterfaces"]) == sorted(account.subnets.values())
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]] == [
        snaps[0]["SnapshotId"]]  # the replica is untouched by the deployment

    resp = api.post(f"/v1/{project}/transfers/{tid}/actions", json={"delete-disks": None})
    assert resp.status_code in (200, 202, 204), resp.get_json()
    deadline = time.monotonic() + 60
    while ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]:
        assert time.monotonic() < deadline, "replica snapshots were not deleted"
        time.sleep(0.5)
