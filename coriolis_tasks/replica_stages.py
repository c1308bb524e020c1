"""Stages of transfers: replicate a disk into its persistent replica, finalize, clone for a deployment."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conversion import checksum, convert, sync
from conversion import info as image_info
from coriolis.database.models import ReplicaDisk, utcnow
from coriolis.database.session import session_scope
from coriolis_tasks import staging
from coriolis_tasks.runtime import StageRun
from coriolis_tasks.snapshot_replicas import clone_snapshot_replica, sync_snapshot_replica
from coriolis_tasks.stages import StageError, register_stage
from providers.abilities import (
    ChangedAreas,
    ChangeTracking,
    DiskAreaReader,
    PowerControl,
    ReplicaStore,
    SnapshotReplicaStore,
)
from providers.types import DiskInfo, DiskRef, Exporter, MigrationContext, ProviderError, Reporter, VmInfo


def _stem(disk_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", disk_id)


def _replica_store(run: StageRun) -> ReplicaStore | SnapshotReplicaStore:
    importer = run.importer()
    if not isinstance(importer, SnapshotReplicaStore | ReplicaStore):
        raise ProviderError(f"destination {run.migration.destination['type']!r} cannot keep replica disks")
    return importer


def _replica_row(session, run: StageRun) -> ReplicaDisk | None:
    return session.scalars(
        select(ReplicaDisk).where(
            ReplicaDisk.transfer_id == run.migration.transfer_id,
            ReplicaDisk.instance == run.instance,
            ReplicaDisk.disk_id == run.disk_id,
        )
    ).first()


def _raw_view(exported: DiskRef) -> Path | None:
    """The exported disk's bytes as a raw file, when they already are one (raw, or a flat VMDK)."""
    if exported.format == "raw":
        return Path(exported.path)
    if exported.format == "vmdk":
        info = image_info(Path(exported.path), "vmdk")
        extents = info.extent_files
        if info.subformat == "monolithicFlat" and len(extents) == 1 and Path(extents[0]).stat().st_size == (
            info.virtual_size
        ):
            return Path(extents[0])
    return None


def _file_areas(path: Path, areas: list[tuple[int, int]], piece: int = 4 << 20) -> Iterator[tuple[int, bytes]]:
    """(offset, data) of ``areas`` read from a local raw file, in pieces of at most ``piece`` bytes."""
    with open(path, "rb") as fh:
        for offset, length in areas:
            end = offset + length
            while offset < end:
                take = min(piece, end - offset)
                data = os.pread(fh.fileno(), take, offset)
                yield offset, data + bytes(take - len(data))  # past the end of a raw file: zeros
                offset += take


def _drop_staged(ctx: MigrationContext, *paths: Path) -> None:
    for path in set(paths):
        if path.is_relative_to(ctx.staging_dir):
            path.unlink(missing_ok=True)


def _export_raw(exporter: Exporter, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext,
                reporter: Reporter) -> tuple[Path, Path]:
    """The disk exported and seen as a raw file: (raw file, exported file)."""
    exported = exporter.export_disk(vm, disk, ctx, reporter)
    raw = _raw_view(exported)
    if raw is None:
        Path(ctx.staging_dir).mkdir(parents=True, exist_ok=True)
        raw = ctx.staging_dir / f"{_stem(disk.id)}.replica-source.raw"
        message = f"reading {disk.id} ({exported.format})"
        convert(
            Path(exported.path), exported.format, raw, "raw",
            progress=lambda pct: reporter.step(int(pct * 100), 10000, message),
        )
    return raw, Path(exported.path)


def _sync_changed_areas(
    exporter: Exporter, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter,
    replica_dir: Path, stem: str, changes: ChangedAreas, size: int,
) -> sync.SyncStats:
    """Read only the changed areas (widened to whole chunks) and apply them; ``FullSyncNeeded`` when it cannot."""
    areas = sync.align(changes.extents, size)
    total = sum(length for _offset, length in areas)
    message = f"syncing {disk.id} into its replica ({len(changes.extents)} changed areas, {total} bytes)"
    reporter.step(0, total, message)

    def progress(done: int, _total: int) -> None:
        reporter.step(done, total, message)

    if isinstance(exporter, DiskAreaReader):
        with contextlib.closing(exporter.read_areas(vm, disk, areas, ctx)) as pieces:
            return sync.sync_areas(pieces, replica_dir, stem, size, changes.change_id or None,
                                   len(changes.extents), progress)
    raw, exported = _export_raw(exporter, vm, disk, ctx, reporter)
    try:
        if raw.stat().st_size != size:
            raise sync.FullSyncNeeded(f"the exported disk holds {raw.stat().st_size} bytes, not {size}")
        return sync.sync_areas(_file_areas(raw, areas), replica_dir, stem, size, changes.change_id or None,
                               len(changes.extents), progress)
    finally:
        _drop_staged(ctx, raw, exported)


def sync_disk(
    exporter: Exporter, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter, replica_dir: Path
) -> tuple[sync.SyncStats, str]:
    """Bring the replica of ``disk`` up to the source; returns the stats and how (``changed_areas``,
    ``hash_compare`` or ``full_copy``).

    A source with ``ChangeTracking`` is asked what changed since the change id the replica
    committed; only those areas are read when it can say (and the replica can take them).
    Otherwise the whole disk is read and its chunks compared with the replica's hash map. The
    source's new change id is committed with the data either way.
    """
    stem = _stem(disk.id)
    replica_dir.mkdir(parents=True, exist_ok=True)
    sync.recover(replica_dir, stem)
    state = sync.read_state(replica_dir, stem)
    change_id: str | None = None
    if isinstance(exporter, ChangeTracking):
        since = (state or {}).get("change_id") or None
        changes = exporter.changed_areas(vm, disk, since, ctx)
        change_id = changes.change_id or None
        if not changes.full and since and state is not None:
            try:
                stats = _sync_changed_areas(exporter, vm, disk, ctx, reporter, replica_dir, stem, changes,
                                            disk.size_bytes or state["size"])
                return stats, "changed_areas"
            except sync.FullSyncNeeded as exc:
                reporter.info(f"disk {disk.id}: {exc}; comparing every chunk instead")
                sync.recover(replica_dir, stem)
    raw, exported = _export_raw(exporter, vm, disk, ctx, reporter)
    try:
        message = f"syncing {disk.id} into its replica"
        stats = sync.sync(raw, replica_dir, stem, progress=lambda d, t: reporter.step(d, t, message),
                          change_id=change_id)
    finally:
        _drop_staged(ctx, raw, exported)
    return stats, "full_copy" if stats.full else "hash_compare"


def _sync_once(run: StageRun, store: ReplicaStore | SnapshotReplicaStore, label: str) -> dict[str, Any]:
    """One pass: bring the replica up to the source, record the generation it now holds."""
    if isinstance(store, SnapshotReplicaStore):
        return sync_snapshot_replica(run, store, label)
    vm = run.vm()
    disk = vm.disk(run.disk_id or "")
    replica_dir = store.replica_dir(run.migration.transfer_id, run.instance)
    stats, method = sync_disk(run.exporter(), vm, disk, run.ctx, run.reporter, replica_dir)
    digest = stats.checksum
    replica = replica_dir / f"{_stem(disk.id)}.raw"
    with session_scope(run.settings.database_url) as s:
        row = _replica_row(s, run) or ReplicaDisk(
            transfer_id=run.migration.transfer_id,
            instance=run.instance,
            disk_id=disk.id,
            path=str(replica),
            size_bytes=disk.size_bytes,
        )
        row.path, row.size_bytes, row.generation = str(replica), replica.stat().st_size, stats.generation
        row.checksum, row.change_id, row.synced_at = digest, stats.change_id, utcnow()
        s.add(row)
    kind = {"full_copy": "full copy", "hash_compare": "incremental (hash compare)",
            "changed_areas": f"incremental ({stats.areas} changed areas from the source)"}[method]
    run.reporter.info(
        f"{label}: disk {disk.id}: {kind}, {stats.chunks_written} of {stats.chunks_total} chunks written "
        f"({stats.bytes_read} bytes read, {stats.bytes_written} written), generation {stats.generation}"
    )
    return {**stats.to_dict(), "method": method, "disk_id": disk.id, "path": str(replica), "checksum": digest}


def replicate_disk(run: StageRun) -> dict[str, Any]:
    """Sync the disk into its replica; a live migration repeats it while the source keeps writing."""
    store = _replica_store(run)
    live = (run.migration.options or {}).get("scenario") == "live_migration"
    passes = run.settings.live_sync_max_passes if live else 1
    for number in range(1, passes + 1):
        result = _sync_once(run, store, f"sync pass {number}" if live else "sync")
        if live and result["bytes_written"] <= run.settings.live_sync_converged_bytes:
            break
    return {**result, "passes": number}


def shutdown_instance(run: StageRun) -> dict[str, Any]:
    """Live migration's cutover: stop the source instance so the last sync sees a quiet disk."""
    exporter = run.exporter()
    if isinstance(exporter, PowerControl):
        exporter.power_off(run.vm())
        run.reporter.info(f"source instance {run.instance!r} powered off for the final sync")
        return {"powered_off": True}
    run.reporter.warn(
        f"source provider {run.migration.origin.get('type')!r} cannot power instances off: "
        "the final sync runs with the source still running"
    )
    return {"powered_off": False}


def replicate_disk_final(run: StageRun) -> dict[str, Any]:
    """The last sync of a live migration, after the source was shut down."""
    return {**_sync_once(run, _replica_store(run), "final sync"), "passes": 1}


def finalize_execution(run: StageRun) -> dict[str, Any]:
    """The instance's replica disks are all synced: their generations become the deployable ones."""
    disks = run.inputs.get("REPLICATE_DISK_FINAL") or run.inputs.get("REPLICATE_DISK", [])
    staging.remove(run.settings.staging_dir, run.migration_id, run.instance)
    return {"disks": [{k: d[k] for k in ("disk_id", "generation", "checksum")} for d in disks]}


def clone_disk(run: StageRun) -> dict[str, Any]:
    """Copy a replica disk into staging in the destination's format, leaving the replica untouched."""
    importer = run.importer()
    if isinstance(importer, SnapshotReplicaStore):
        return clone_snapshot_replica(run, importer)
    with session_scope(run.settings.database_url) as s:
        row = _replica_row(s, run)
        if row is None:
            raise ProviderError(f"disk {run.disk_id} of {run.instance!r} has no replica")
        replica, digest, size = Path(row.path), row.checksum, row.size_bytes
    fmt = run.target().disk_format
    out = run.ctx.staging_dir / f"{_stem(run.disk_id or '')}.{fmt}"
    message = f"cloning replica of {run.disk_id} to {fmt}"
    convert(replica, "raw", out, fmt, progress=lambda pct: run.reporter.step(int(pct * 100), 10000, message))
    if checksum(out, fmt, scratch_dir=out.parent) != digest:
        out.unlink(missing_ok=True)
        raise StageError(f"disk {run.disk_id}: the clone differs from the replica's recorded content")
    run.reporter.info(f"disk {run.disk_id}: cloned from its replica, content checksum {digest} matches")
    return DiskRef(run.disk_id or "", str(out), fmt, size, digest).to_dict()


replicate = register_stage("replicate", replicate_disk)
shutdown = register_stage("shutdown", shutdown_instance)
replicate_final = register_stage("replicate_final", replicate_disk_final)
finalize_execution_task = register_stage("finalize_execution", finalize_execution)
clone = register_stage("clone", clone_disk)
