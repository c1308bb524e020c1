"""The kvm destination's networks (its network option's values) and storage (storage_dir's file system)."""

from __future__ import annotations

import os

from providers.abilities import NetworkInventory


def test_networks_are_the_network_option_values(importer) -> None:
    kvm = importer()
    assert isinstance(kvm, NetworkInventory)
    assert [(n["id"], n["type"]) for n in kvm.list_networks()] == [("user", "qemu-user"), ("none", "none")]


def test_storage_is_storage_dir_with_its_file_system_sizes(importer, storage) -> None:
    storage.mkdir(parents=True, exist_ok=True)
    (backend,) = importer().list_storage()
    stats = os.statvfs(storage)
    assert backend["id"] == str(storage.resolve()) and backend["type"] == "directory"
    assert backend["capacity_bytes"] == stats.f_blocks * stats.f_frsize
    assert 0 < backend["free_bytes"] <= backend["capacity_bytes"]


def test_storage_dir_not_created_yet_reports_its_parent_file_system(importer, storage) -> None:
    (backend,) = importer({"storage_dir": str(storage / "later" / "disks")}).list_storage()
    assert backend["name"] == "disks" and backend["capacity_bytes"] > 0
    assert not (storage / "later").exists()
