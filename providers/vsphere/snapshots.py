"""Migration snapshots: a deterministic name per migration, shared by its disk exports, always removed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from providers.shared_use import SharedUse
from providers.types import ProviderError
from providers.vsphere.client import VsphereClient
from providers.vsphere.devices import device_kind

log = logging.getLogger(__name__)


def snapshot_name(migration_id: str) -> str:
    """The name of the snapshot a migration takes (``coriolis-<migration id>``)."""
    return f"coriolis-{migration_id}"


def _walk(trees: Any) -> Iterator[Any]:
    for tree in trees or ():
        yield tree
        yield from _walk(tree.childSnapshotList)


def named(vm: Any, name: str) -> list[Any]:
    """The snapshots of ``vm`` called ``name`` (snapshot objects, oldest first)."""
    info = vm.snapshot
    return [tree.snapshot for tree in _walk(info.rootSnapshotList if info else None) if tree.name == name]


def remove_named(client: VsphereClient, vm: Any, name: str) -> int:
    """Remove every snapshot of ``vm`` called ``name``; returns how many. Safe to repeat."""
    found = named(vm, name)
    for snap in reversed(found):
        client.remove_snapshot(snap, name)
    return len(found)


@contextmanager
def frozen(client: VsphereClient, vm: Any, name: str, description: str) -> Iterator[Any]:
    """Take snapshot ``name`` of ``vm`` for the block, and remove it afterwards, whatever happens.

    A snapshot of that name left by a crashed worker is removed first: the new one freezes
    the disks as they are now.
    """
    if remove_named(client, vm, name):
        log.info("removed a leftover snapshot %s of %s", name, vm.name)
    snap = client.create_snapshot(vm, name, description)
    try:
        yield snap
    except BaseException:
        try:
            remove_named(client, vm, name)
        except Exception:  # the original error matters more; cleanup(ctx) retries the removal
            log.exception("could not remove snapshot %s of %s", name, vm.name)
        raise
    remove_named(client, vm, name)


@contextmanager
def shared_frozen(
    client: VsphereClient, vm: Any, name: str, description: str, shared: SharedUse, holder: str
) -> Iterator[Any]:
    """Snapshot ``name`` of ``vm``, shared by the tasks that export the VM's disks side by side.

    The first holder (nobody held it before) removes a leftover of that name and takes the
    snapshot; later holders read the same one, so all the disks are frozen at one instant and
    snapshots never nest. The last holder to leave removes it, whatever happened; a failed run's
    cleanup removes it too. ``holder`` names the task (its disk), so a redelivery rejoins as itself.
    """
    key = f"vsphere-snapshot:{vm._moId}:{name}"
    with shared.locked(key):
        first = shared.join(key, holder)
        existing = [] if first else named(vm, name)
        if first and remove_named(client, vm, name):
            log.info("removed a leftover snapshot %s of %s", name, vm.name)
        snap = existing[0] if existing else client.create_snapshot(vm, name, description)
    try:
        yield snap
    finally:
        with shared.locked(key):
            if shared.leave(key, holder):
                try:
                    remove_named(client, vm, name)
                except Exception:  # cleanup(ctx) retries the removal
                    log.exception("could not remove snapshot %s of %s", name, vm.name)
                    raise


def frozen_disk_file(snapshot: Any, device_key: int) -> str:
    """The datastore path (``[ds] dir/disk.vmdk``) of a disk as the snapshot froze it.

    Raises:
        ProviderError: the disk is not in the snapshot, or it sits on older snapshots (a delta chain).
    """
    for device in snapshot.config.hardware.device:
        if device_kind(device) == "disk" and device.key == device_key:
            backing = device.backing
            if getattr(backing, "parent", None) is not None:
                raise ProviderError(
                    f"disk {device_key} has older snapshots ({backing.fileName}); delete or consolidate them first"
                )
            return str(backing.fileName)
    raise ProviderError(f"the snapshot holds no disk {device_key}")
