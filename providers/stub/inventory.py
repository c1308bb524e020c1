"""The stub's networks and storage backends: the names in its connection info, with made-up sizes."""

from __future__ import annotations

from typing import Any

STUB_CAPACITY = 1 << 40


def list_networks(connection: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"id", "name", "type": "stub"}`` for every configured network name."""
    return [{"id": name, "name": name, "type": "stub", "vlan_id": None} for name in connection.get("networks") or ()]


def list_storage(connection: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"id", "name", "capacity_bytes", "free_bytes", "type": "stub"}`` for every configured backend."""
    return [
        {"id": name, "name": name, "capacity_bytes": STUB_CAPACITY, "free_bytes": STUB_CAPACITY, "type": "stub"}
        for name in connection.get("storage_backends") or ()
    ]
