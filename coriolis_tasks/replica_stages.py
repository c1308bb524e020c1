"""Stages of transfers: replicate a disk into its persistent replica, finalize, clone for a deployment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conversion import checksum, convert, sync
from conversion import info as image_info
from coriolis.database.models import ReplicaDisk, utcnow
from coriolis.database.session import session_scope
from coriolis_tasks import staging
from coriolis_tasks.runtime import StageRun
from coriolis_tasks.stages import StageError, register_stage
from providers.types import DiskRef, PowerControl, ProviderError, ReplicaStore


def _stem(disk_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", disk_id)


def _replica_store(run: StageRun) -> ReplicaStore:
    importer = run.importer()
    if not isinstance(importer, ReplicaStore):
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


def _sync_once(run: StageRun, store: ReplicaStore, label: str) -> dict[str, Any]:
    """One pass: read the source disk, write what changed into the replica, record the generation."""
    vm = run.vm()
    disk = vm.disk(run.disk_id or "")
    exported = run.exporter().export_disk(vm, disk, run.ctx, run.reporter)
    raw = _raw_view(exported)
    if raw is None:
        raw = run.ctx.staging_dir / f"{_stem(disk.id)}.replica-source.raw"
        message = f"reading {disk.id} ({exported.format})"
        convert(
            Path(exported.path),
            exported.format,
            raw,
            "raw",
            progress=lambda pct: run.reporter.step(int(pct * 100), 10000, message),
        )
    replica_dir = store.replica_dir(run.migration.transfer_id, run.instance)
    message = f"syncing {disk.id} into its replica"
    stats = sync.sync(raw, replica_dir, _stem(disk.id), progress=lambda d, t: run.reporter.step(d, t, message))
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
        row.path, row.size_bytes, row.generation = str(replica), raw.stat().st_size, stats.generation
        row.checksum, row.synced_at = digest, utcnow()
        s.add(row)
    kind = "full copy" if stats.full else "incremental"
    run.reporter.info(
        f"{label}: disk {disk.id}: {kind}, {stats.chunks_written} of {stats.chunks_total} chunks written "
        f"({stats.bytes_written} bytes), generation {stats.generation}"
    )
    for path in {raw, Path(exported.path)}:
        if path.is_relative_to(run.ctx.staging_dir):
            path.unlink(missing_ok=True)
    return {**stats.to_dict(), "disk_id": disk.id, "path": str(replica), "checksum": digest}


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
