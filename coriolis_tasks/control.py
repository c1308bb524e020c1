"""Control tasks and calls: plan and dispatch a migration, cancel it, clean up, complete it."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update

from coriolis import quotas, trusts
from coriolis.config import Settings, get_settings
from coriolis.database.models import Migration, Task, Transfer, new_id, utcnow
from coriolis.database.session import session_scope
from coriolis.statuses import FINISHED_MIGRATION, MigrationStatus, TaskStatus
from coriolis_tasks import connections, pipeline, staging
from coriolis_tasks.app import celery_app
from coriolis_tasks.reporter import TaskReporter
from coriolis_tasks.runtime import StageRun, fail_migration, run_stage, store_for
from providers.types import MigrationContext, ProviderError

log = logging.getLogger(__name__)
UNFINISHED = (
    TaskStatus.SCHEDULED, TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.WAITING, TaskStatus.CANCELLING,
)


def add_info_tasks(session, run: Migration) -> None:
    """The first task of every instance of a new run: read its info (planning creates the rest)."""
    for n, instance in enumerate(run.instances, start=1):
        session.add(
            Task(
                migration_id=run.id, index=n, instance=instance, task_type=pipeline.INFO_TASK,
                queue=pipeline.CONTROL_QUEUE, status=TaskStatus.SCHEDULED, depends_on=[],
            )
        )


def submit(migration_id: str) -> None:
    """Queue the planning of a new migration."""
    celery_app.send_task("coriolis.control.plan", args=(migration_id,))


def cancel(settings: Settings, migration_id: str, force: bool = False) -> None:
    """Stop a migration: revoke what has not started, signal what runs, then clean up."""
    store_for(settings).abort(migration_id, "cancelled by the user")
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id)
        migration.status = MigrationStatus.CANCELLING
        ids = list(s.scalars(select(Task.id).where(Task.migration_id == migration_id, Task.status.in_(UNFINISHED))))
    if ids:
        celery_app.control.revoke(ids, terminate=force)
    celery_app.send_task("coriolis.control.cleanup", args=(migration_id, MigrationStatus.CANCELED.value, force))


def _get_instance_info(run: StageRun) -> dict[str, Any]:
    if run.migration.type == pipeline.DEPLOYMENT:
        return _info_from_transfer(run)
    exporter = run.exporter()
    vm = exporter.get_instance(run.instance)
    if not vm.disks:
        raise ProviderError(f"instance {run.instance!r} has no disks to migrate")
    try:  # a declared size is the source's word: refuse an absurd one before any data moves
        quotas.check_disks(run.settings, run.instance, vm.to_dict()["devices"]["disks"])
    except quotas.QuotaExceeded as exc:
        raise ProviderError(str(exc)) from None
    target = run.importer().target_profile(vm)
    run.reporter.info(f"found {vm.name}: {vm.num_cpu} CPUs, {vm.memory_mb} MB, {len(vm.disks)} disk(s)")
    return {"vm": vm.to_dict(), "target": target.to_dict()}


def _info_from_transfer(run: StageRun) -> dict[str, Any]:
    """A deployment works from the replica: the instance as its last execution saw it."""
    with session_scope(run.settings.database_url) as s:
        transfer = s.get(Transfer, run.migration.transfer_id)
        info = (transfer.info or {}).get(run.instance)
    if not info:
        raise ProviderError(f"instance {run.instance!r} has no replica yet: run an execution of the transfer first")
    run.reporter.info(f"deploying {run.instance} from its replica (generation of the last execution)")
    return info


@celery_app.task(name="coriolis.control.plan", ignore_result=True, bind=True)
def plan(self, migration_id: str) -> None:
    """Read every instance's info, create the stage tasks and dispatch the canvas (once)."""
    settings = get_settings()
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id)
        if migration is None or migration.dispatched or migration.status != MigrationStatus.PENDING:
            return
        if store_for(settings).abort_reason(migration_id):
            return
        migration.status = MigrationStatus.RUNNING
        info_tasks = [t.id for t in migration.tasks if t.task_type == pipeline.INFO_TASK]
    infos = {}
    for task_id in info_tasks:
        result = run_stage(task_id, _get_instance_info, self.request.hostname)
        with session_scope(settings.database_url) as s:
            infos[s.get(Task, task_id).instance] = (task_id, result)
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id, with_for_update=True)
        if migration.dispatched or migration.status != MigrationStatus.RUNNING:
            return
        migration.info = {inst: result for inst, (_tid, result) in infos.items()}
        try:
            quotas.check_planned(s, settings, migration)
        except quotas.QuotaExceeded as exc:  # its disks would take the project over its bytes in flight
            s.commit()
            fail_migration(settings, migration_id, str(exc))
            return
        index = len(migration.tasks)
        ids: dict[str, str] = {}
        rows: list[Task] = []
        for instance, (info_id, result) in infos.items():
            disk_ids = [d["id"] for d in result["vm"]["devices"]["disks"]]
            kind = pipeline.pipeline_of(migration.type, migration.options)
            for planned in pipeline.plan_instance(instance, disk_ids, info_id, kind):
                index += 1
                task = Task(
                    id=new_id(), migration_id=migration_id, index=index, instance=instance,
                    task_type=planned.task_type, queue=planned.queue, disk_id=planned.disk_id,
                    status=TaskStatus.SCHEDULED, depends_on=[ids.get(k, k) for k in planned.depends_on],
                    on_error=planned.on_error,
                )
                ids[planned.key] = task.id
                rows.append(task)
        s.add_all(rows)
        canvas = pipeline.build([(t.id, t.task_type, t.disk_id, t.instance) for t in rows], migration_id)
        migration.dispatched = True
    canvas.apply_async()


def complete_if_done(task_id: str) -> None:
    """After an instance is finalized: complete the run once every instance is."""
    settings = get_settings()
    with session_scope(settings.database_url) as s:
        migration_id = s.get(Task, task_id).migration_id
        tasks = s.scalars(select(Task).where(Task.migration_id == migration_id)).all()
        finals = [t for t in tasks if t.task_type in pipeline.FINAL_TASK_TYPES]
        if not finals or any(t.status != TaskStatus.COMPLETED for t in finals):
            return
        result: dict[str, Any] = {}
        for t in tasks:
            if t.task_type == "IMPORT_INSTANCE":
                result.setdefault(t.instance, {}).update(t.result or {})
            elif t.task_type == "BOOT_INSTANCE":
                result.setdefault(t.instance, {})["boot"] = t.result
        done = s.execute(
            update(Migration)
            .where(Migration.id == migration_id, Migration.status == MigrationStatus.RUNNING)
            .values(status=MigrationStatus.COMPLETED, transfer_result=result, finished_at=utcnow())
        )
        if done.rowcount:
            for t in tasks:
                if t.on_error and t.status == TaskStatus.SCHEDULED:
                    t.status = TaskStatus.UNSCHEDULED
    staging.remove(settings.staging_dir, migration_id)
    if done.rowcount:
        from coriolis_tasks import transfers

        try:
            transfers.after_completion(settings, migration_id)
        finally:
            trusts.release(settings, migration_id)  # an automatic deployment took it over, if any


def _wait_for_running(settings: Settings, migration_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with session_scope(settings.database_url) as s:
            running = s.scalars(
                select(Task).where(Task.migration_id == migration_id, Task.status == TaskStatus.RUNNING)
            ).all()
            if not running:
                return
            if time.monotonic() >= deadline:
                for t in running:  # its worker is gone or ignores the signal
                    t.status = TaskStatus.FORCE_CANCELED
                    t.finished_at = utcnow()
                return
        time.sleep(0.3)


def _cleanup_instance(settings: Settings, migration_id: str, instance: str) -> None:
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id)
        row = next((t for t in migration.tasks if t.on_error and t.instance == instance), None)
        if row is None:
            row = Task(
                migration_id=migration_id, index=len(migration.tasks) + 1, instance=instance,
                task_type=pipeline.CLEANUP_TASK, queue=pipeline.CONTROL_QUEUE, status=TaskStatus.SCHEDULED,
                depends_on=[], on_error=True,
            )
            s.add(row)
        row.status = TaskStatus.RUNNING
        row.started_at = utcnow()
        s.flush()
        task_id = row.id
    reporter = TaskReporter(task_id, migration_id, store_for(settings), settings.database_url)
    ctx = MigrationContext(
        migration_id, instance, staging.instance_dir(settings.staging_dir, migration_id, instance, create=False)
    )
    status = TaskStatus.COMPLETED
    for role, factory in (("source", connections.exporter_for), ("destination", connections.importer_for)):
        try:
            with session_scope(settings.database_url) as s:
                provider = factory(s, s.get(Migration, migration_id))
            provider.cleanup(ctx)
            reporter.info(f"{role} resources of {instance!r} removed")
        except Exception as exc:  # keep cleaning the rest; the event says what was left
            log.exception("cleanup of %s failed", role)
            reporter.error(f"cleanup of the {role} failed: {exc}")
            status = TaskStatus.ERROR
    with session_scope(settings.database_url) as s:
        row = s.get(Task, task_id)
        row.status = status
        row.finished_at = utcnow()


@celery_app.task(name="coriolis.control.cleanup", ignore_result=True)
def cleanup(migration_id: str, final_status: str, force: bool = False) -> None:
    """Wait for running tasks to stop, remove what the migration created, set its final status."""
    settings = get_settings()
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, migration_id)
        if migration is None:
            return
        finished = migration.status in FINISHED_MIGRATION
        instances = list(migration.instances)
    if finished:  # a repeated cleanup still retries a trust Keystone failed to delete
        trusts.release(settings, migration_id)
        return
    _wait_for_running(settings, migration_id, 5 if force else settings.cancel_wait_seconds)
    skipped = TaskStatus.CANCELED if final_status == MigrationStatus.CANCELED else TaskStatus.UNSCHEDULED
    with session_scope(settings.database_url) as s:
        s.execute(
            update(Task)
            .where(Task.migration_id == migration_id, Task.on_error.is_(False), Task.status.in_(UNFINISHED))
            .values(status=skipped, finished_at=utcnow())
        )
    for instance in instances:
        _cleanup_instance(settings, migration_id, instance)
    staging.remove(settings.staging_dir, migration_id)
    with session_scope(settings.database_url) as s:
        s.execute(
            update(Migration)
            .where(Migration.id == migration_id, Migration.status.not_in(list(FINISHED_MIGRATION)))
            .values(status=final_status, finished_at=utcnow())
        )
    trusts.release(settings, migration_id)


@celery_app.task(name="coriolis.control.remove_instances")
def remove_instances(run_id: str) -> dict[str, Any]:
    """Remove what a finished run created at the destination (deleting a test deployment)."""
    settings = get_settings()
    try:
        with session_scope(settings.database_url) as s:
            run = s.get(Migration, run_id)
            importer = connections.importer_for(s, run)
            instances = list(run.instances)
        for instance in instances:
            path = staging.instance_dir(settings.staging_dir, run_id, instance, create=False)
            importer.cleanup(MigrationContext(run_id, instance, path))
    except ProviderError as exc:
        return {"ok": False, "message": str(exc)}
    return {"ok": True, "value": {"removed": instances}}
