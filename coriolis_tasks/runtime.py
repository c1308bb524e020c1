"""Running one stage: load its task by id, report progress, record the outcome, fail safely."""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import Ignore
from sqlalchemy import select

from coriolis.config import Settings, get_settings
from coriolis.database.models import Migration, Task, utcnow
from coriolis.database.session import session_scope
from coriolis.progress import ProgressStore, get_redis
from coriolis.statuses import MigrationStatus, TaskStatus
from coriolis_tasks import connections, staging
from coriolis_tasks.reporter import TaskReporter
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

    @property
    def ctx(self) -> MigrationContext:
        path = staging.instance_dir(self.settings.staging_dir, self.migration_id, self.instance)
        return MigrationContext(self.migration_id, self.instance, path)

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


def _start(settings: Settings, task_id: str, hostname: str | None) -> StageRun | dict[str, Any]:
    """Mark the task RUNNING, or return its result when a redelivery finds it done."""
    store = store_for(settings)
    with session_scope(settings.database_url) as s:
        task = s.get(Task, task_id)
        if task is None:
            raise Ignore()
        if task.status == TaskStatus.COMPLETED:
            return dict(task.result or {})
        migration = task.migration
        reason = store.abort_reason(migration.id)
        if reason or migration.status != MigrationStatus.RUNNING:
            task.status = TaskStatus.CANCELED if task.status != TaskStatus.UNSCHEDULED else task.status
            task.finished_at = utcnow()
            raise Ignore()
        task.status = TaskStatus.RUNNING
        task.host = hostname or socket.gethostname()
        task.process_id = os.getpid()
        task.started_at = utcnow()
        deps = s.scalars(select(Task).where(Task.id.in_(task.depends_on or []))).all()
        inputs: dict[str, list[dict[str, Any]]] = {}
        for dep in sorted(deps, key=lambda t: t.index):
            inputs.setdefault(dep.task_type, []).append(dict(dep.result or {}))
        s.flush()
        s.expunge(migration)
        reporter = TaskReporter(task_id, migration.id, store, settings.database_url, settings.progress_interval)
        return StageRun(
            settings, task_id, task.task_type, migration.id, task.instance, task.disk_id, migration, inputs,
            reporter, list(task.depends_on or []),
        )


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

    store_for(settings).abort(migration_id, reason)
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
    run = _start(settings, task_id, hostname)
    if not isinstance(run, StageRun):
        return run
    try:
        result = body(run)
    except Cancelled as exc:
        run.reporter.flush()
        run.reporter.warn(f"stopped: {exc}")
        _finish(settings, task_id, TaskStatus.CANCELED, None, str(exc))
        raise Ignore() from None
    except Exception as exc:
        log.exception("task %s (%s) failed", task_id, run.task_type)
        message = str(exc) or type(exc).__name__
        run.reporter.flush()
        run.reporter.error(message)
        _finish(settings, task_id, TaskStatus.ERROR, None, f"{message}\n\n{traceback.format_exc()}")
        where = f"{run.task_type} of instance {run.instance!r}" + (f" disk {run.disk_id}" if run.disk_id else "")
        fail_migration(settings, run.migration_id, f"{where} failed: {message}")
        raise Ignore() from None
    run.reporter.flush()
    _finish(settings, task_id, TaskStatus.COMPLETED, result, None)
    return result
