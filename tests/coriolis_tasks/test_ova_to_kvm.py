"""End to end: a real Debian guest exported as a VMware OVA migrates to local KVM and boots on virtio."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from conversion import checksum
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import MARKER_REGEX, ensure_guest, make_ova_copy

# a real morph in the appliance and a boot (TCG): slack for a busy host
pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(3000)]


@pytest.fixture(scope="module")
def guest():
    return ensure_guest()


def test_ova_guest_migrates_to_kvm_and_boots_from_virtio(live_client, workers, guest, tmp_path):
    library = tmp_path / "ova-library"
    library.mkdir()
    make_ova_copy(guest, library)
    storage = tmp_path / "kvm-storage"
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = {
        "migration": {
            "origin": {"type": "ova", "connection_info": {"path": str(library)}},
            "destination": {
                "type": "kvm",
                "connection_info": {"storage_dir": str(storage)},
                "target_environment": {
                    # the marker line itself: under load the login prompt can come first
                    "preserve_static_ips": True, "boot_timeout": 900, "boot_marker": MARKER_REGEX,
                },
            },
            "instances": [guest.ova.name],
            # run in the guest, inside the morphing appliance, after the fixers
            "user_scripts": {
                "global": {"linux": "echo global > etc/coriolis-user-global; grep -c ens192 etc/network/interfaces"},
                "instances": {guest.ova.name: "echo instance-script ran in $(pwd)"},
            },
        }
    }
    resp = live_client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(live_client, project, mid, timeout=2400)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    tasks = {t["task_type"]: t for t in migration["tasks"]}

    # the source instance was read from the OVF: VMware hardware
    vm = migration["info"][guest.ova.name]["export_info"]
    assert vm["num_cpu"] == 2 and vm["memory_mb"] == 1024
    assert [n["mac_address"].lower() for n in vm["devices"]["nics"]] == [guest.mac.lower()]

    # the converted disk holds exactly what the guest's disk held
    source_digest = checksum(guest.raw, "raw")
    assert tasks["CONVERT_DISK"]["result"]["checksum"] == source_digest
    assert tasks["CONVERT_DISK"]["result"]["format"] == "qcow2"

    # morphing said what it changed
    morph_events = " ".join(e["message"] for e in tasks["OS_MORPHING"]["events"])
    assert "open-vm-tools" in morph_events
    morph = tasks["OS_MORPHING"]["result"]["morph"]
    assert morph["os_info"]["distribution"] == "debian"
    # inspected by libguestfs in the appliance, each concern and the launch timed, user scripts run
    assert morph["inspection"]["distro"] == "debian" and morph["inspection"]["mountpoints"] == {"/": "/dev/sda1"}
    assert morph["timings"]["appliance_launch"] > 0 and "drivers" in morph["timings"]
    assert "appliance: launched in" in morph_events and "inspection: " in morph_events
    assert "user script global linux: exit status 0; output:\n" in morph_events
    assert f"user script instance {guest.ova.name}: exit status 0; output:\ninstance-script ran in /" in morph_events

    # the guest booted from /dev/vda with its NIC up, VMware tools gone, cloud-init set for NoCloud
    boot = migration["transfer_result"][guest.ova.name]["boot"]
    assert boot["booted"] is True
    marker = re.search(guest.marker_regex, boot["message"] + "\n" + boot["console_tail"])
    assert marker, boot
    assert marker["rootdev"] == "/dev/vda1"
    assert marker["vmtools"] == "no"
    assert marker["cloudinit"].startswith("NoCloud")
    assert re.search(r"\w+:UP", marker["ifaces"]), marker["ifaces"]
    assert guest.static_ip in marker["addrs"]

    # the destination holds the disk and the VM definition; staging is gone
    instance = migration["transfer_result"][guest.ova.name]
    disk = Path(instance["disks"][0]["path"])
    assert disk.is_relative_to(storage) and disk.exists()
    argv = json.loads((disk.parent / "qemu-cmdline.json").read_text())
    assert any("virtio" in a for a in argv) and guest.mac.lower() in " ".join(argv).lower()
    assert (disk.parent / "domain.xml").exists()
    assert not (Path(workers.settings.staging_dir) / mid).exists()
