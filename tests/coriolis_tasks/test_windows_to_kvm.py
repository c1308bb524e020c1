"""End to end: a synthetic Windows Server 2019 disk in a VMware OVA migrates to KVM through the API.

The disk cannot boot (there is no Windows here): what is proved is what the conversion wrote, read
back from the destination's disk through an appliance, and that the boot stage says it did not
check. A hibernated source is refused before anything is written, and nothing is left behind.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.windows.disk import build_windows_ova, ensure_disk
from tests.fixtures.windows.inspect import read_back

pytestmark = [pytest.mark.slow, pytest.mark.root]
MAC = "00:50:56:aa:bb:cc"


def body(library: Path, storage: Path, name: str) -> dict:
    return {
        "migration": {
            "origin": {"type": "ova", "connection_info": {"path": str(library)}},
            "destination": {
                "type": "kvm",
                "connection_info": {"storage_dir": str(storage)},
                "target_environment": {"preserve_static_ips": True},
            },
            "instances": [f"{name}.ova"],
        }
    }


def test_windows_guest_converts_for_kvm(live_client, workers, windows_toolkit, tmp_path):
    library, storage = tmp_path / "library", tmp_path / "kvm"
    build_windows_ova(ensure_disk("2k19"), library, "win2k19", MAC)
    project = f"win-{uuid.uuid4().hex[:8]}"
    resp = live_client.post(f"/v1/{project}/migrations", json=body(library, storage, "win2k19"))
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(live_client, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    tasks = {t["task_type"]: t for t in migration["tasks"]}

    morph = tasks["OS_MORPHING"]["result"]["morph"]
    assert morph["fixer"] == "windows" and morph["os_info"]["os_type"] == "windows"
    events = " | ".join(e["message"] for e in tasks["OS_MORPHING"]["events"])
    assert "Windows Server 2019 Datacenter 10.0 build 17763 (server, ServerDatacenter), x86_64" in events
    assert "control set ControlSet002" in events
    assert "VMware Tools will be uninstalled at first boot" in events

    # the boot stage did not pretend
    boot = migration["transfer_result"]["win2k19.ova"]["boot"]
    assert boot["checked"] is False and boot["booted"] is False
    assert boot["message"].startswith("not checked (Windows)")

    # what the destination's disk holds
    disk = migration["transfer_result"]["win2k19.ova"]["disks"][0]
    facts = read_back(Path(disk["path"]), disk["format"])
    assert facts["control_set"] == "ControlSet002"
    assert facts["viostor"]["Start"] == 0 and facts["viostor"]["Type"] == 1
    assert facts["viostor"]["ImagePath"] == r"system32\drivers\viostor.sys"
    assert facts["boot_driver"] is True
    assert "VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00" in facts["pci_ids"]
    assert {"netkvm.inf", "viostor.sys", "balloon.inf", "vioser.inf"} <= set(facts["drivers"])
    assert facts["firstboot_service"] == 2
    assert facts["firstboot_command"] == r'cmd.exe /c "C:\Program Files\Coriolis\Firstboot\firstboot.cmd"'
    assert facts["scripts"] == [
        "00-install-drivers.cmd",
        "10-install-qemu-ga.cmd",
        "20-uninstall-vmware.cmd",
        "30-static-ip.ps1",
    ]
    assert "rhsrvany.exe" in facts["files"]
    assert not (Path(workers.settings.staging_dir) / mid).exists()


def test_hibernated_windows_is_refused_and_nothing_is_left(live_client, workers, windows_toolkit, tmp_path):
    library, storage = tmp_path / "library", tmp_path / "kvm"
    build_windows_ova(ensure_disk("2k19", "hibernated"), library, "sleepy", MAC)
    project = f"win-{uuid.uuid4().hex[:8]}"
    resp = live_client.post(f"/v1/{project}/migrations", json=body(library, storage, "sleepy"))
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(live_client, project, mid, timeout=900)
    assert migration["status"] == "ERROR"
    assert "hibernated" in migration["last_error"] and "Fast Startup" in migration["last_error"]
    tasks = {t["task_type"]: t for t in migration["tasks"]}
    assert tasks["OS_MORPHING"]["status"] == "ERROR"
    assert tasks["IMPORT_INSTANCE"]["status"] != "COMPLETED"
    left = [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []
    assert left == []
    assert not (Path(workers.settings.staging_dir) / mid).exists()
