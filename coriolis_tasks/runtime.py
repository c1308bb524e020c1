"""Running one stage: load its task by id, report progress, record the outcome, fail safely."""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import current_task
from celery.exceptions import Ignore, Retry
from sqlalchemy import func, select

from coriolis import logging_setup, stage_metrics
from coriolis.config import Settings, get_settings
from coriolis.database.models import Migration, ProgressUpdate, Task, utcnow
from coriolis.database.session import session_scope
from coriolis.progress import ProgressStore, get_redis
from coriolis.secrets import masking
from coriolis.statuses import MigrationStatus, TaskStatus
from coriolis_tasks import claims, connections, read_slots, staging
from coriolis_tasks.reporter import TaskReporter
from coriolis_tasks.shared_use import RedisSharedUse
from providers.types import Cancelled, Exporter, Importer, MigrationContext, TargetProfile, VmInfo

log = logging.getLogger(__name__)


def store_for(settings: Settings) -> ProgressStore:
    return ProgressStore(get_redis(settings.redis_url))


@dataclass
class StageRun:
    """What a stage body sees: its task, the migration, its inputs, a reporter."""

    settings: Settings
    task_id: str
    task_type: str
    migration_id: str
    instance: str
    disk_id: str | None
    migration: Migration
    inputs: dict[str, list[dict[str, Any]]]
    reporter: TaskReporter
    dep_ids: list[str] = field(default_factory=list)
    slot: read_slots.ReadSlot | None = None

    @property
    def ctx(self) -> MigrationContext:
        path = staging.instance_dir(self.settings.staging_dir, self.migration_id, self.instance)
        shared = RedisSharedUse(store_for(self.settings).client, self.settings.queue_prefix)
        return MigrationContext(self.migration_id, self.instance, path, self.migration.transfer_id, shared)

    @property
    def instance_info(self) -> dict[str, Any]:
        return (self.migration.info or {}).get(self.instance, {})

    def vm(self) -> VmInfo:
        return VmInfo.from_dict(self.instance_info["vm"])

    def target(self) -> TargetProfile:
        return TargetProfile.from_dict(self.instance_info.get("target") or {})

    def input(self, task_type: str) -> dict[str, Any]:
        """The result of the single task of ``task_type`` this one depends on."""
        (result,) = self.inputs[task_type]
        return result

    def update_input(self, task_type: str, **fields: Any) -> None:
        """Add ``fields`` to the stored result of the single ``task_type`` task this one depends on."""
        with session_scope(self.settings.database_url) as s:
            (dep,) = s.scalars(
                select(Task).where(Task.id.in_(self.dep_ids), Task.task_type == task_type)
            ).all()
            dep.result = {**(dep.result or {}), **fields}

    def exporter(self) -> Exporter:
        with session_scope(self.settings.database_url) as s:
            return connections.exporter_for(s, s.get(Migration, self.migration_id))

    def importer(self) -> Importer:
        with session_scope(self.settings.database_url) as s:
            return connections.importer_for(s, s.get(Migration, self.migration_id))


def abort_reason(store: ProgressStore, migration_id: str) -> str | None:
    """The migration's abort flag; None while Redis is unreachable (the database still decides)."""
    try:
        return store.abort_reason(migration_id)
    except redis.RedisError as exc:
        log.warning("cannot read the abort flag of %s: %s", migration_id, exc)
        return None


def _take_read_slot(settings: Settings, session, task: Task, store: ProgressStore) -> read_slots.ReadSlot | None:
    """A slot on the task's source host, or None when all are taken (the task is then WAITING)."""
    migration = task.migration
    try:
        exporter = connections.exporter_for(session, migration)
    except Exception:  # the stage itself will report why the source cannot be used
        exporter = None
    vm = VmInfo.from_dict((migration.info or {})[task.instance]["vm"])
    key = read_slots.source_key(migration, exporter, vm)
    limit = read_slots.limit_for(
        key, settings.max_parallel_reads_per_source, settings.max_parallel_reads_by_source
    )
    slot = read_slots.ReadSlot(store.client, key, task.id, limit, settings.queue_prefix)
    try:
        if slot.try_acquire():
            return slot
    except redis.RedisError as exc:  # no slot bookkeeping without Redis: read rather than stall
        log.warning("read slots of %s unavailable, reading without one: %s", key, exc)
        return slot
    message = f"waiting for a read slot on {key} ({slot.in_use} in use)"
    last = session.scalars(
        select(ProgressUpdate).where(ProgressUpdate.task_id == task.id).order_by(ProgressUpdate.index.desc())
    ).first()
    if last is not None and last.message.startswith("waiting for a read slot"):
        last.message = message
    else:
        count = session.scalar(select(func.count()).where(ProgressUpdate.task_id == task.id)) or 0
        session.add(ProgressUpdate(task_id=task.id, index=count + 1, current_step=0, total_steps=None, message=message))
    task.status = TaskStatus.WAITING
    return None


def _start(settings: Settings, task_id: str, hostname: str | None) -> StageRun | dict[str, Any]:
    """Claim the task (RUNNING), or return its result when a redelivery finds it done.

    A delivery that finds the task RUNNING in a live process, or claimed by another delivery
    at the same moment, ends with ``Ignore``: a stage never runs twice at once (``claims``).

    A disk read first takes a slot on its source host; when none is free the task is marked
    WAITING and retried later (``_WaitForSlot``), holding no worker slot meanwhile.
    """
    store = store_for(settings)
    with session_scope(settings.database_url) as s:
        task = s.get(Task, task_id)
        if task is None:
            raise Ignore()
        if task.status == TaskStatus.COMPLETED:
            return dict(task.result or {})
        migration = task.migration
        me = hostname or socket.gethostname()
        takeover = task.status == TaskStatus.RUNNING and claims.holder_gone(task.id, task.host, task.process_id, me)
        reason = abort_reason(store, migration.id)
        if reason or migration.status != MigrationStatus.RUNNING:
            if not TaskStatus(task.status).finished:  # a late redelivery never rewrites an outcome
                task.status = TaskStatus.CANCELED
                task.finished_at = utcnow()
            stop: type[Exception] | None = Ignore
        elif task.status == TaskStatus.RUNNING and not takeover:
            log.info("task %s already runs on %s (pid %s): duplicate delivery ignored", task_id, task.host,
                     task.process_id)
            stop = Ignore
        elif TaskStatus(task.status).finished:  # ended ERROR or CANCELED: its run already failed or stopped
            stop = Ignore
        elif task.task_type in read_slots.READ_STAGES:
            slot = _take_read_slot(settings, s, task, store)
            stop = None if slot is not None else _WaitForSlot
        else:
            slot, stop = None, None
        if stop is not None:
            s.commit()
            raise stop()
        if not claims.claim(s, task, me, os.getpid(), takeover):
            if slot is not None:
                slot.release()
            log.info("task %s was claimed by another delivery meanwhile: this one is ignored", task_id)
            raise Ignore()
        deps = s.scalars(select(Task).where(Task.id.in_(task.depends_on or []))).all()
        inputs: dict[str, list[dict[str, Any]]] = {}
        for dep in sorted(deps, key=lambda t: t.index):
            inputs.setdefault(dep.task_type, []).append(dict(dep.result or {}))
        s.flush()
        s.expunge(migration)
        reporter = TaskReporter(task_id, migration.id, store, settings.database_url, settings.progress_interval)
        return StageRun(
            settings, task_id, task.task_type, migration.id, task.instance, task.disk_id, migration, inputs,
            reporter, list(task.depends_on or []), slot,
        )


class _WaitForSlot(Exception):
    """Every read slot of the task's source is taken: the task is WAITING and is retried later."""


def _finish(settings: Settings, task_id: str, status: TaskStatus, result: dict | None, details: str | None):
    with session_scope(settings.database_url) as s:
        task = s.get(Task, task_id)
        task.status = status
        task.finished_at = utcnow()
        if result is not None:
            task.result = result
        if details is not None:
            task.exception_details = details


def fail_migration(settings: Settings, migration_id: str, reason: str) -> None:
    """Stop every task of the migration and start its cleanup, ending in ERROR (idempotent)."""
    from coriolis_tasks.app import celery_app

    try:
        store_for(settings).abort(migration_id, reason)
    except redis.RedisError as exc:  # cleanup still stops the rest: it waits, then force-cancels
        log.warning("cannot set the abort flag of %s: %s", migration_id, exc)
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id)
        if migration is not None and not MigrationStatus(migration.status).finished:
            migration.last_error = migration.last_error or reason
    celery_app.send_task("coriolis.control.cleanup", args=(migration_id, MigrationStatus.ERROR.value))


def run_stage(task_id: str, body: Callable[[StageRun], dict[str, Any]], hostname: str | None = None):
    """Run ``body`` as the stage ``task_id``: skip it when already done, record what happens.

    A failure marks the task ERROR with the reason and fails the migration, which stops
    the other tasks and runs cleanup; a cancel marks it CANCELED. Either way the Celery
    task ends with ``Ignore`` so the rest of the canvas does not run.
    """
    settings = get_settings()
    try:
        run = _start(settings, task_id, hostname)
    except _WaitForSlot:
        _retry_later(settings, task_id)
    if not isinstance(run, StageRun):
        return run
    try:
        return _run(settings, run, body)
    finally:
        if run.slot is not None:
            run.slot.release()


def _retry_later(settings: Settings, task_id: str) -> None:
    """Ask again for a read slot later: a new message with a countdown, this one acknowledged.

    Waiting holds no worker slot. A task retries as often as it has to (one more each time);
    if even the retry cannot be queued, the task fails rather than staying WAITING forever.
    """
    try:
        raise current_task.retry(
            countdown=settings.read_slot_retry_seconds, max_retries=current_task.request.retries + 1
        )
    except Retry:
        raise
    except Exception as exc:
        message = f"could not queue the retry of a waiting read: {exc}"
        _finish(settings, task_id, TaskStatus.ERROR, None, message)
        with session_scope(settings.database_url) as s:
            task = s.get(Task, task_id)
            migration_id, where = task.migration_id, f"{task.task_type} of instance {task.instance!r}"
        fail_migration(settings, migration_id, f"{where} failed: {message}")
        raise Ignore() from None


def _check_staging_space(settings: Settings, run: StageRun) -> None:
    """Before a stage that writes a disk into staging: room for the whole disk, else a clean ERROR."""
    if run.task_type not in staging.SPACE_STAGES or not run.disk_id:
        return
    needed = run.vm().disk(run.disk_id).size_bytes
    staging.check_space(run.ctx.staging_dir, needed, settings.staging_reserve_bytes)


def _run(settings: Settings, run: StageRun, body: Callable[[StageRun], dict[str, Any]]) -> dict[str, Any]:
    task_id = run.task_id
    logging_setup.bind(migration_id=run.migration_id, task_id=task_id, task_type=run.task_type)
    try:
        _check_staging_space(settings, run)
        result = body(run)
    except Cancelled as exc:
        run.reporter.flush()
        run.reporter.warn(f"stopped: {exc}")
        _finish(settings, task_id, TaskStatus.CANCELED, None, str(exc))
        raise Ignore() from None
    except Exception as exc:
        log.exception("task %s (%s) failed", task_id, run.task_type)
        stage_metrics.for_settings(settings).count_failure(run.task_type, exc)
        message = masking.mask(str(exc) or type(exc).__name__)
        run.reporter.flush()
        run.reporter.error(message)
        _finish(settings, task_id, TaskStatus.ERROR, None, f"{message}\n\n{masking.mask(traceback.format_exc())}")
        where = f"{run.task_type} of instance {run.instance!r}" + (f" disk {run.disk_id}" if run.disk_id else "")
        fail_migration(settings, run.migration_id, f"{where} failed: {message}")
        raise Ignore() from None
    run.reporter.flush()
    _finish(settings, task_id, TaskStatus.COMPLETED, result, None)
    stage_metrics.for_settings(settings).observe(run.task_type, run.reporter.started, result)
    return result
