"""Cloud to cloud through the REST API: the real Debian guest running in AWS (moto) migrates to Azure.

The guest's disk is an EBS volume of an EC2 instance (moto, gaps bridged); the destination is Azurite for
the VHD page blobs plus the hand-written ARM fake for managed disks, NICs and the VM. The guest is morphed
for Azure (Hyper-V drivers, cloud-init Azure).
"""

from __future__ import annotations

import uuid

import pytest

from conversion import checksum
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import ensure_guest
from tests.providers.aws.conftest import make_source_instance
from tests.providers.azure.conftest import GROUP, SUBSCRIPTION, azure_connection

pytestmark = [pytest.mark.slow, pytest.mark.root]


def test_aws_instance_migrates_to_azure(fleet, account, azure_arm, azurite, tmp_path):
    guest = ensure_guest()
    source = make_source_instance(account, tmp_path, "aws-web", raws=[guest.raw])
    subnet = azure_arm.add_subnet(SUBSCRIPTION, GROUP, "vnet-1", "prod")
    project = f"a2z-{uuid.uuid4().hex[:8]}"
    body = {"migration": {
        "origin": {"type": "aws", "connection_info": account.moto.connection_info()},
        "destination": {"type": "azure", "connection_info": azure_connection(azure_arm, azurite),
                        "target_environment": {"disk_sku": "StandardSSD_LRS"}},
        "network_map": {account.subnets["prod"]: subnet},
        "instances": [source.instance_id],
    }}
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert migration["transfer_result"][source.instance_id]["boot"]["booted"] is True

    # the source: untouched, and the snapshot made for the export is gone
    ec2 = account.moto.client("ec2")
    state = ec2.describe_instances(InstanceIds=[source.instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running" and account.tagged(mid)["snapshots"] == []
    events = str(migration)
    source_digest = checksum(guest.raw, "raw")
    assert source_digest in events  # the export read exactly the guest's content out of EBS

    # the destination: a VM on the mapped subnet from one managed disk holding the morphed guest
    made = azure_arm.tagged(mid)
    assert len(made["virtualMachines"]) == 1 and len(made["disks"]) == 1 and len(made["networkInterfaces"]) == 1
    disk = next(r for r in azure_arm.resources.values() if r["name"] == made["disks"][0])
    assert disk["properties"]["hyperVGeneration"] == "V1" and disk["properties"]["osType"] == "Linux"
    nic = next(r for r in azure_arm.resources.values() if r["name"] == made["networkInterfaces"][0])
    assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == subnet
    copy = azure_arm.disk_copy(disk["id"])
    assert checksum(copy, "vpc") == disk["tags"]["coriolis_disk_checksum"] != source_digest
    with open(copy, "rb") as fh:
        found = False
        while chunk := fh.read(64 << 20):
            if b"datasource_list: [Azure, None]" in chunk:
                found = True
                break
    assert found, "cloud-init is not set for Azure in the imported disk"
    assert [b.name for b in azurite.container("coriolis").list_blobs()] == []  # page blobs gone once imported

    secrets = [account.moto.connection_info()["secret_access_key"], azure_arm.client_secret,
               azure_connection(azure_arm, azurite)["storage_account_key"]]
    shown = str(fleet.api.get(f"/v1/{project}/migrations/{mid}").get_json())
    assert not any(s in shown for s in secrets)
    for log in fleet.dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert not any(s in text for s in secrets), log
