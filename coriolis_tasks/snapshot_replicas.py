"""Transfers into a destination whose replicas are its own snapshots (EBS): sync and clone.

A sync with a change-tracking source writes only the changed areas, widened to the store's block
size, on a new snapshot over the committed one; otherwise the disk is exported and its data written
on a fresh snapshot. The database row then names the new snapshot, and only after that commit is
the old one deleted, so a failed or cancelled sync leaves the committed replica whole.
"""

from __future__ import annotations

import contextlib
from typing import Any

from conversion import convert, sync
from coriolis.database.models import ReplicaDisk, utcnow
from coriolis.database.session import session_scope
from coriolis_tasks.runtime import StageRun
from providers.abilities import ChangeTracking, DiskAreaReader, ReplicaWrite, SnapshotReplicaStore
from providers.types import DiskRef, ProviderError


def _row(session, run: StageRun) -> ReplicaDisk | None:
    from coriolis_tasks.replica_stages import _replica_row

    return _replica_row(session, run)


def sync_snapshot_replica(run: StageRun, store: SnapshotReplicaStore, label: str) -> dict[str, Any]:
    """One sync of ``run``'s disk into a snapshot replica; returns the stage result (the replicate shape)."""
    from coriolis_tasks.replica_stages import _drop_staged, _export_raw, _file_areas

    vm, exporter, ctx, reporter = run.vm(), run.exporter(), run.ctx, run.reporter
    disk = vm.disk(run.disk_id or "")
    transfer_id = run.migration.transfer_id
    with session_scope(run.settings.database_url) as s:
        row = _row(s, run)
        parent, since, generation = (row.path, row.change_id, row.generation) if row else (None, None, 0)
    change_id: str | None = None
    written: ReplicaWrite | None = None
    method, areas_count, bytes_read = "full_copy", 0, 0
    if isinstance(exporter, ChangeTracking):
        changes = exporter.changed_areas(vm, disk, since, ctx)
        change_id = changes.change_id or None
        if not changes.full and since and parent:
            areas = sync.align(changes.extents, disk.size_bytes, store.replica_block_size)
            bytes_read = sum(length for _offset, length in areas)
            reporter.info(f"disk {disk.id}: {len(changes.extents)} changed areas ({bytes_read} bytes in whole "
                          f"{store.replica_block_size >> 10} KiB blocks) over snapshot {parent}")
            if isinstance(exporter, DiskAreaReader):
                with contextlib.closing(exporter.read_areas(vm, disk, areas, ctx)) as pieces:
                    written = store.write_replica(transfer_id, run.instance, disk, parent, pieces, reporter)
            else:
                raw, exported = _export_raw(exporter, vm, disk, ctx, reporter)
                try:
                    written = store.write_replica(transfer_id, run.instance, disk, parent, _file_areas(raw, areas),
                                                  reporter)
                finally:
                    _drop_staged(ctx, raw, exported)
            method, areas_count = "changed_areas", len(changes.extents)
    if written is None:
        raw, exported = _export_raw(exporter, vm, disk, ctx, reporter)
        try:
            bytes_read = raw.stat().st_size
            written = store.write_replica(transfer_id, run.instance, disk, None, raw, reporter)
        finally:
            _drop_staged(ctx, raw, exported)
    with session_scope(run.settings.database_url) as s:
        row = _row(s, run) or ReplicaDisk(transfer_id=transfer_id, instance=run.instance, disk_id=disk.id,
                                          path=written.location, size_bytes=disk.size_bytes)
        row.path, row.size_bytes, row.generation = written.location, disk.size_bytes, generation + 1
        row.checksum, row.change_id, row.synced_at = written.checksum, change_id, utcnow()
        s.add(row)
    if parent and parent != written.location:
        try:
            store.forget_replica(parent)
        except ProviderError as exc:  # delete_replicas finds it again
            reporter.warn(f"could not delete the replaced replica snapshot {parent}: {exc}")
    kind = "incremental" if method == "changed_areas" else "full copy"
    reporter.info(f"{label}: disk {disk.id}: {kind} into {written.location}, {written.blocks_written} blocks "
                  f"({written.bytes_written} bytes) written, generation {generation + 1}")
    return {"method": method, "disk_id": disk.id, "path": written.location, "checksum": written.checksum,
            "generation": generation + 1, "full": written.full, "areas": areas_count, "bytes_read": bytes_read,
            "bytes_written": written.bytes_written, "blocks_written": written.blocks_written, "change_id": change_id}


def clone_snapshot_replica(run: StageRun, store: SnapshotReplicaStore) -> dict[str, Any]:
    """The replica snapshot read into staging in the destination's format (the replica stays as it is)."""
    with session_scope(run.settings.database_url) as s:
        row = _row(s, run)
        if row is None:
            raise ProviderError(f"disk {run.disk_id} of {run.instance!r} has no replica")
        location, recorded, size = row.path, row.checksum, row.size_bytes
    fmt = run.target().disk_format
    run.ctx.staging_dir.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in run.disk_id or "")
    raw = run.ctx.staging_dir / f"{stem}.raw"
    digest = store.read_replica(location, size, raw, run.reporter)
    if recorded and digest != recorded:
        raw.unlink(missing_ok=True)
        raise ProviderError(f"disk {run.disk_id}: the replica {location} differs from its recorded content")
    out = raw
    if fmt != "raw":
        out = run.ctx.staging_dir / f"{stem}.{fmt}"
        convert(raw, "raw", out, fmt)
        raw.unlink()
    run.reporter.info(f"disk {run.disk_id}: read from replica {location}, content checksum {digest}"
                      + (" matches" if recorded else " (blocks checked one by one)"))
    return DiskRef(run.disk_id or "", str(out), fmt, size, digest).to_dict()

