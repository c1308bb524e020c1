"""Storage mappings: which Cinder volume type a source disk lands on (by disk id, source backend, default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.types import DiskInfo


def mapped_volume_type(disk_id: str, disk: DiskInfo | None, mappings: Mapping[str, Any]) -> str | None:
    """The volume type ``storage_mappings`` gives the disk, or None when it names none.

    A disk mapping wins over a backend mapping (the source datastore, ``storage_backend_identifier``),
    which wins over ``default``.

    Args:
        disk_id: the disk's id.
        disk: the source's description of it (its backend), when known.
        mappings: ``{"default", "backend_mappings": [{"source", "destination"}],
            "disk_mappings": [{"disk_id", "destination"}]}``.
    """
    for item in mappings.get("disk_mappings") or ():
        if item.get("disk_id") == disk_id:
            return item["destination"]
    backend = disk.storage_backend_identifier if disk is not None else None
    if backend:
        for item in mappings.get("backend_mappings") or ():
            if item.get("source") == backend:
                return item["destination"]
    return mappings.get("default") or None


def named_volume_types(mappings: Mapping[str, Any]) -> set[str]:
    """Every volume type the mappings name (to check they exist)."""
    names = {item["destination"] for key in ("disk_mappings", "backend_mappings") for item in mappings.get(key) or ()}
    if mappings.get("default"):
        names.add(mappings["default"])
    return names
