"""End to end through the REST API: the real Debian guest's OVA migrates to GCP (gcp-storage-emulator + the named
Compute fake). OS morphing is skipped here (test_ova_to_aws and test_aws_to_azure morph the same guest), so the
image must hold exactly the source's content."""

from __future__ import annotations

import uuid

import pytest

from conversion import checksum
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import ensure_guest, make_ova_copy
from tests.providers.gcp.conftest import gcp_connection

pytestmark = [pytest.mark.slow, pytest.mark.root]


def test_ova_guest_migrates_to_gcp(fleet, gce_fake, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    subnet = gce_fake.add_subnetwork("europe-west1", "prod")
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(library)}},
        "destination": {"type": "gcp", "connection_info": gcp_connection(gce_fake),
                        "target_environment": {"nic_type": "VIRTIO_NET"}},
        "network_map": {guest.network_name: subnet},
        "instances": [guest.ova.name],
        "skip_os_morphing": True,
    }}
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert migration["transfer_result"][guest.ova.name]["boot"]["booted"] is True

    made = gce_fake.labelled(mid)
    assert len(made["images"]) == 1 and len(made["instances"]) == 1 and len(made["disks"]) == 1
    instance = gce_fake.instances[made["instances"][0]]
    assert [n["subnetwork"] for n in instance["networkInterfaces"]] == [subnet]
    assert instance["networkInterfaces"][0]["nicType"] == "VIRTIO_NET"
    image = gce_fake.images[made["images"][0]]
    assert {"type": "GVNIC"} not in image["guestOsFeatures"]
    # disk.raw, read back out of the tarball the bucket held, is the guest's disk (a whole number of GiB already)
    assert checksum(image["_raw"], "raw") == checksum(guest.raw, "raw")
    assert list(gce_fake.storage.client().list_blobs("coriolis-images", prefix=f"coriolis/{mid}")) == []
    secret = gcp_connection(gce_fake)["service_account_key"]["private_key"].splitlines()[1]
    assert secret not in str(fleet.api.get(f"/v1/{project}/migrations/{mid}").get_json())
    for log in fleet.dir.glob("*.log"):
        assert secret not in log.read_text(errors="replace"), log
