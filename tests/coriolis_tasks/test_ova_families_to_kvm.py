"""End to end: the UEFI/LVM Debian guest and the Red Hat shaped guest migrate from OVA to KVM and boot on virtio.

One real boot each (the destination's boot check); the negative controls — each guest fails to boot on
virtio unmorphed — are in tests/fixtures/test_uefi_guest.py and test_redhat_guest.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import make_ova_copy
from tests.fixtures.guest.redhat import RedHatGuest, ensure_redhat_guest
from tests.fixtures.guest.uefi import ESP, UefiGuest, ensure_uefi_guest

# The migration (appliance launch, initramfs rebuild, OVMF/dracut boot under TCG) takes 5-15 min on a busy host.
pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(2400)]


def _migrate(live_client, guest: UefiGuest | RedHatGuest, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    storage = tmp_path / "kvm-storage"
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    body = {
        "migration": {
            "origin": {"type": "ova", "connection_info": {"path": str(library)}},
            "destination": {
                "type": "kvm",
                # The UEFI firmware is the kvm destination's own (its defaults; see tests/fixtures/guest/firmware.py).
                "connection_info": {"storage_dir": str(storage)},
                "target_environment": {"preserve_static_ips": True, "boot_timeout": 400},
            },
            "instances": [guest.ova.name],
        }
    }
    resp = live_client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    migration = wait_finished(live_client, project, resp.get_json()["migration"]["id"], timeout=2100)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    return migration, storage


def _marker(migration: dict[str, Any], guest: UefiGuest | RedHatGuest) -> re.Match[str]:
    boot = migration["transfer_result"][guest.ova.name]["boot"]
    assert boot["booted"] is True, boot
    marker = re.search(guest.marker_regex, boot["message"] + "\n" + boot["console_tail"])
    assert marker, boot
    return marker


def _esp_listing(disk: Path, fmt: str, tmp_path: Path) -> list[str]:
    raw = tmp_path / "migrated.raw"
    subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", str(disk), str(raw)], check=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    out = subprocess.run(["mdir", "-/", "-b", "-i", f"{raw}@@{ESP.offset}", "::/"], check=True,
                         capture_output=True, text=True, env=env).stdout
    raw.unlink()
    return out.split()


def test_uefi_lvm_guest_migrates_to_kvm_and_boots_from_virtio(live_client, workers, tmp_path):
    guest = ensure_uefi_guest()
    migration, storage = _migrate(live_client, guest, tmp_path)
    vm = migration["info"][guest.ova.name]["export_info"]
    assert vm["firmware_type"] == "EFI", vm

    # Booted under OVMF with a new, empty variable store: only the removable-path loader the morph
    # wrote can have been found. Root came up from LVM, /boot and the ESP from the virtio disk.
    marker = _marker(migration, guest)
    assert marker["rootdev"] == guest.root_device
    assert "vda:virtio_blk" in marker["disks"].split(",")
    assert marker["mounts"] == "/boot=/dev/vda2,/boot/efi=/dev/vda1"
    assert re.search(r"\w+:UP", marker["ifaces"]), marker["ifaces"]
    assert guest.static_ip in marker["addrs"]

    instance = migration["transfer_result"][guest.ova.name]
    disk = Path(instance["disks"][0]["path"])
    assert disk.is_relative_to(storage)
    argv = json.loads((disk.parent / "qemu-cmdline.json").read_text())
    assert any("if=pflash" in a for a in argv), argv
    listing = _esp_listing(disk, instance["disks"][0]["format"], tmp_path)
    assert "::/EFI/BOOT/BOOTX64.EFI" in listing  # the fallback loader
    assert "::/EFI/debian/grubx64.efi" in listing  # the vendor loader stays


def test_redhat_guest_migrates_to_kvm_and_boots_from_virtio(live_client, workers, tmp_path):
    guest = ensure_redhat_guest()
    migration, storage = _migrate(live_client, guest, tmp_path)
    instance = migration["info"][guest.ova.name]["export_info"]
    assert instance["os_type"] == "linux", instance

    # dracut rebuilt the initramfs with virtio inside the appliance: root came up from the virtio disk
    # by UUID, the ifcfg file keyed by the source MAC found its NIC (the kvm destination keeps MACs).
    marker = _marker(migration, guest)
    assert marker["release"] == guest.release
    assert marker["root"] == f"UUID={guest.root_uuid}"
    assert "vda:virtio_blk" in marker["disks"].split(",")
    assert guest.static_ip in marker["addrs"], marker["addrs"]

    tasks = {t["task_type"]: t for t in migration["tasks"]}
    morph_events = " ".join(e["message"] for e in tasks["OS_MORPHING"]["events"])
    assert "rebuilt /boot/initramfs-" in morph_events and "virtio_blk" in morph_events, morph_events[-3000:]
    assert "open-vm-tools" in morph_events  # removed by rpm -e inside the appliance
    assert tasks["OS_MORPHING"]["result"]["morph"]["os_info"]["distribution"] == "rhel"
    disk = Path(migration["transfer_result"][guest.ova.name]["disks"][0]["path"])
    assert disk.is_relative_to(storage)
