"""Migration checkpoints: one per instance, shared by its disk exports, always removed (merged) afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from providers.shared_use import SharedUse

log = logging.getLogger(__name__)


class CheckpointHost(Protocol):
    kind: str

    def create_checkpoint(self, vm_id: str, name: str, checkpoint_type: str) -> dict[str, str]: ...

    def checkpoint_paths(self, vm_id: str, name: str) -> dict[str, str]: ...

    def remove_checkpoint(self, vm_id: str, name: str) -> int: ...


def checkpoint_name(migration_id: str) -> str:
    """The name of the checkpoint a migration takes (``coriolis-<migration id>``)."""
    return f"coriolis-{migration_id}"


@contextmanager
def shared_checkpoint(
    host: CheckpointHost, vm_id: str, name: str, checkpoint_type: str, shared: SharedUse, holder: str
) -> Iterator[dict[str, str]]:
    """Checkpoint ``name`` of a VM for the block, shared by the tasks exporting its disks side by side.

    Yields ``{disk id: path}`` of the files the checkpoint froze (the parents its AVHDX files now
    write over). The first holder removes a leftover of that name and takes the checkpoint; later
    holders read the same one, so every disk is frozen at one instant. The last holder to leave
    removes it (Hyper-V merges the AVHDX back), whatever happened; a failed run's cleanup removes it too.
    """
    key = f"{host.kind}-checkpoint:{vm_id}:{name}"
    with shared.locked(key):
        first = shared.join(key, holder)
        try:
            paths = {} if first else host.checkpoint_paths(vm_id, name)
            if not paths:
                if host.remove_checkpoint(vm_id, name):
                    log.info("removed a leftover checkpoint %s of %s", name, vm_id)
                paths = host.create_checkpoint(vm_id, name, checkpoint_type)
        except BaseException:
            _leave(host, shared, key, holder, vm_id, name)
            raise
    try:
        yield paths
    finally:
        with shared.locked(key):
            _leave(host, shared, key, holder, vm_id, name)


def _leave(host: CheckpointHost, shared: SharedUse, key: str, holder: str, vm_id: str, name: str) -> None:
    if shared.leave(key, holder):
        try:
            host.remove_checkpoint(vm_id, name)
        except Exception:  # cleanup(ctx) retries the removal
            log.exception("could not remove checkpoint %s of %s", name, vm_id)
            raise
