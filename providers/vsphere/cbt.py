"""Changed-block tracking: turn it on, and ask which areas of a disk changed since a change id."""

from __future__ import annotations

import logging
from typing import Any

from providers.abilities import ChangedAreas as TrackedAreas
from providers.types import ProviderError
from providers.vsphere.client import VsphereClient

log = logging.getLogger(__name__)

ALL_AREAS = "*"


def enable(client: VsphereClient, vm: Any) -> bool:
    """Turn changed-block tracking on for ``vm``; returns False when it already was.

    vSphere starts tracking at the next snapshot or power cycle, so enable it before the
    snapshot of the first (full) sync.
    """
    if vm.config.changeTrackingEnabled:
        return False
    client.set_change_tracking(vm, True)
    return True


def _merge(areas: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, length in sorted(areas):
        if merged and start <= merged[-1][0] + merged[-1][1]:
            last_start, last_length = merged[-1]
            merged[-1] = (last_start, max(last_length, start + length - last_start))
        else:
            merged.append((start, length))
    return merged


def changed_areas(
    client: VsphereClient, vm: Any, device_key: int, capacity: int, change_id: str, snapshot: Any = None
) -> list[tuple[int, int]]:
    """Byte ranges ``(start, length)`` of disk ``device_key`` changed since ``change_id``.

    QueryChangedDiskAreas answers one window of the disk at a time; this walks the windows
    until the whole capacity is covered. ``change_id="*"`` asks for every allocated area.

    Args:
        client: the session.
        vm: the VM.
        device_key: the disk's device key.
        capacity: the disk's size in bytes.
        change_id: the change id stored after the previous sync.
        snapshot: the snapshot the current sync reads (required by vSphere while the VM runs).
    """
    if not change_id:
        raise ProviderError("a change id is required (use '*' for every allocated area)")
    offset = 0
    found: list[tuple[int, int]] = []
    while offset < capacity:
        window = client.query_changed_areas(vm, snapshot, device_key, offset, change_id)
        if window.start_offset != offset or window.length <= 0:
            raise ProviderError(
                f"QueryChangedDiskAreas answered window {window.start_offset}+{window.length} for offset {offset}"
            )
        end = window.start_offset + window.length
        for start, length in window.areas:
            if start < window.start_offset or length <= 0 or start + length > min(end, capacity):
                raise ProviderError(f"QueryChangedDiskAreas answered area {start}+{length} outside its window")
            found.append((start, length))
        offset = end
    return _merge(found)


def disk_change_id(snapshot_or_vm: Any, device_key: int) -> str | None:
    """The change id a disk had when ``snapshot_or_vm`` (a snapshot or the VM) was taken."""
    for device in snapshot_or_vm.config.hardware.device:
        if getattr(device, "key", None) == device_key and hasattr(device, "capacityInKB"):
            return getattr(device.backing, "changeId", None)
    return None


def areas_since(
    client: VsphereClient, vm: Any, device_key: int, capacity: int, since: str | None, snapshot: Any = None
) -> TrackedAreas:
    """The ``ChangeTracking`` answer for one disk: areas changed since ``since`` and the change id now.

    The new change id is read first (from ``snapshot`` when given, else the VM), so a write made
    while the areas are queried lands after it and is reported next time. No previous id, no
    current id (tracking just turned on) or a refused previous id (tracking was reset, the disk
    was moved) answer ``full=True``: the sync then compares every chunk.

    Args:
        client: the session.
        vm: the VM.
        device_key: the disk's device key.
        capacity: the disk's size in bytes.
        since: the change id the replica committed last time.
        snapshot: a snapshot taken for this query (vSphere wants one while the VM runs).
    """
    current = disk_change_id(snapshot if snapshot is not None else vm, device_key) or ""
    if not since or not current:
        return TrackedAreas(change_id=current, full=True)
    try:
        return TrackedAreas(change_id=current, extents=changed_areas(client, vm, device_key, capacity, since, snapshot))
    except ProviderError as exc:
        log.warning("changed areas of disk %s since %s unavailable (%s): comparing every chunk", device_key, since, exc)
        return TrackedAreas(change_id=current, full=True)
