"""The stub's networks and storage backends: the names configured in its connection info."""

from __future__ import annotations

from providers.abilities import NetworkInventory
from providers.registry import get_provider


def test_source_and_destination_list_their_configured_names(tmp_path) -> None:
    spec = get_provider("stub")
    source = spec.exporter({"networks": ["prod", "dmz"], "storage_backends": ["fast"]}, {})
    target = spec.importer({"storage_dir": str(tmp_path)}, {})
    assert isinstance(source, NetworkInventory) and isinstance(target, NetworkInventory)
    assert [n["name"] for n in source.list_networks()] == ["prod", "dmz"]
    assert source.list_storage() == [{"id": "fast", "name": "fast", "capacity_bytes": 1 << 40,
                                      "free_bytes": 1 << 40, "type": "stub"}]
    assert [n["id"] for n in target.list_networks()] == ["stub-net"]
    assert [s["id"] for s in target.list_storage()] == ["stub-storage"]
    assert spec.exporter({"networks": []}, {}).list_networks() == []
