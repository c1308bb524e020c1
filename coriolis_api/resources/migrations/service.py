"""Migration logic the views call: create, list, show with live progress, cancel, delete."""

from __future__ import annotations

import weakref
from typing import Any

from flask import current_app
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import defer, selectinload

from coriolis import quotas
from coriolis.config import Settings
from coriolis.database.models import Endpoint, Migration, ProgressUpdate, Task, TaskEvent, utcnow
from coriolis.progress import ProgressStore
from coriolis.statuses import FINISHED_MIGRATION, MigrationStatus, TaskStatus
from coriolis_api.context import RequestContext
from coriolis_api.documents import instance_info, inventory
from coriolis_api.pagination import paginate
from coriolis_api.resources.common import (
    check_id,
    provider_for,
    shown_connection_info,
    validate_connection_info,
    validate_with,
)
from coriolis_api.resources.migrations.schemas import UPSTREAM_DEFAULTS
from coriolis_tasks import control, pipeline

SORT_KEYS = ("created_at", "updated_at", "id", "status", "number", "finished_at", "type")
HIDDEN_UNTIL_RUN = (TaskStatus.SCHEDULED, TaskStatus.UNSCHEDULED)
CONNECTION_COLUMNS = ("origin_connection_info", "destination_connection_info")
# what responses show of the sealed columns is read from plain siblings: the sealed ones stay unloaded
HIDDEN_COLUMNS = frozenset({*CONNECTION_COLUMNS, *(c + "_redacted" for c in CONNECTION_COLUMNS)})
UNSEALED = tuple(defer(getattr(Migration, c)) for c in CONNECTION_COLUMNS)
# A run's tasks' progress updates and events, read as plain rows (a poll of one run reads hundreds
# of them: ORM identity-mapped objects cost several times more to build and are only read once).
_UPDATE_COLUMNS = tuple(ProgressUpdate.__table__.c[n] for n in (
    "id", "task_id", "index", "current_step", "total_steps", "message", "created_at"))
_EVENT_COLUMNS = tuple(TaskEvent.__table__.c[n] for n in ("id", "task_id", "index", "level", "message", "created_at"))
_CHILDREN: weakref.WeakKeyDictionary[Task, tuple[list[Any], list[Any]]] = weakref.WeakKeyDictionary()


def _load_children(session, runs: list[Migration]) -> None:
    """Read the progress updates and events of every task of ``runs`` in two queries, as shown dicts."""
    tasks = {t.id: t for m in runs for t in m.tasks}
    if not tasks:
        return
    found: dict[str, tuple[list[Any], list[Any]]] = {tid: ([], []) for tid in tasks}
    # selected by run (one bound id per run), not by task: a poll of one run binds one value, not one per task
    run_ids = [m.id for m in runs]
    for which, (columns, model) in enumerate(((_UPDATE_COLUMNS, ProgressUpdate), (_EVENT_COLUMNS, TaskEvent))):
        query = (select(*columns).join(Task, Task.id == model.task_id)
                 .where(Task.migration_id.in_(run_ids) if len(run_ids) > 1 else Task.migration_id == run_ids[0])
                 .order_by(model.task_id, model.index))
        shown = _shown_update if which == 0 else _shown_event
        for row in session.execute(query):
            found[row[1]][which].append(shown(*row))
    for tid, children in found.items():
        _CHILDREN[tasks[tid]] = children


def _children(task: Task) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(progress updates, events) of a task as shown: what ``_load_children`` read, else its relationships."""
    loaded = _CHILDREN.get(task)
    if loaded is not None:
        return loaded
    return (
        [_shown_update(*(getattr(u, c.name) for c in _UPDATE_COLUMNS)) for u in task.progress_updates],
        [_shown_event(*(getattr(e, c.name) for c in _EVENT_COLUMNS)) for e in task.events],
    )


# A poll of one run shows hundreds of updates and events: built here as JSON-ready dicts, in the
# shapes ``ProgressUpdateOut`` and ``EventOut`` document (marshmallow dumping them field by field
# was most of a poll's time).
def _shown_update(
    id_: Any, task_id: Any, index: Any, current_step: Any, total_steps: Any, message: Any, created_at: Any
) -> dict[str, Any]:
    return {"id": str(id_), "task_id": str(task_id), "index": int(index), "current_step": int(current_step),
            "total_steps": None if total_steps is None else int(total_steps), "message": str(message),
            "created_at": None if created_at is None else created_at.isoformat()}


def _shown_event(id_: Any, task_id: Any, index: Any, level: Any, message: Any, created_at: Any) -> dict[str, Any]:
    return {"id": str(id_), "task_id": str(task_id), "index": int(index), "level": str(level),
            "message": str(message), "created_at": None if created_at is None else created_at.isoformat()}


def _endpoint(session, ctx: RequestContext, endpoint_id: str, role: str) -> Endpoint:
    endpoint = session.get(Endpoint, endpoint_id)
    if endpoint is None or endpoint.deleted or endpoint.project_id != ctx.project_id:
        abort(400, message=f"{role} endpoint {endpoint_id} not found")
    return endpoint


def _merge_environment(spec, env: dict[str, Any], network_map: dict, storage: dict) -> dict[str, Any]:
    """The destination environment with the network map and storage mappings copied in."""
    merged = dict(env)
    names = spec.destination_environment_schema().fields
    if "network_map" in names:
        merged.setdefault("network_map", network_map)
    if "storage_mappings" in names:
        merged.setdefault("storage_mappings", storage)
    return merged


def create(session, ctx: RequestContext, body: dict[str, Any]) -> Migration:
    """Validate a new migration against its providers, store it, and queue its planning."""
    try:
        quotas.check_new_run(session, current_app.config["CORIOLIS_SETTINGS"], ctx.project_id)
    except quotas.QuotaExceeded as exc:
        abort(exc.status, message=str(exc))
    origin, destination = body["origin"], body["destination"]
    migration = Migration(project_id=ctx.project_id, user_id=ctx.user_id, status=MigrationStatus.PENDING)
    if origin is not None:
        source = provider_for(origin["type"], "source")
        validate_connection_info(source, origin["connection_info"])
        migration.origin = {"type": origin["type"]}
        migration.origin_connection_info = origin["connection_info"]
        source_env = origin["source_environment"] or body["source_environment"]
    else:
        endpoint = _endpoint(session, ctx, str(body["origin_endpoint_id"]), "origin")
        source = provider_for(endpoint.type, "source")
        migration.origin_endpoint_id = endpoint.id
        migration.origin = {"type": endpoint.type}
        source_env = body["source_environment"]
    if destination is not None:
        dest = provider_for(destination["type"], "destination")
        validate_connection_info(dest, destination["connection_info"])
        target_env = destination["target_environment"] or body["destination_environment"]
        network_map = destination["network_map"] or body["network_map"] or target_env.get("network_map") or {}
        migration.destination = {"type": destination["type"], "target_environment": target_env}
        migration.destination_connection_info = destination["connection_info"]
    else:
        endpoint = _endpoint(session, ctx, str(body["destination_endpoint_id"]), "destination")
        dest = provider_for(endpoint.type, "destination")
        migration.destination_endpoint_id = endpoint.id
        target_env = body["destination_environment"]
        network_map = body["network_map"]
        migration.destination = {"type": endpoint.type, "target_environment": target_env}
    if (
        migration.origin_endpoint_id
        and migration.origin_endpoint_id == migration.destination_endpoint_id
    ):
        abort(400, message="origin and destination endpoints must differ")
    validate_with(source.source_environment_schema, source_env, "source_environment")
    plain_target = {k: v for k, v in target_env.items() if k not in ("network_map", "storage_mappings")}
    storage = body["storage_mappings"]
    destination_env = _merge_environment(dest, plain_target, network_map, storage)
    validate_with(dest.destination_environment_schema, destination_env, "target_environment")
    migration.source_environment = source_env
    migration.destination_environment = destination_env
    migration.network_map = network_map
    migration.storage_mappings = storage
    for key in ("instances", "user_scripts", "notes", "skip_os_morphing", "shutdown_instances"):
        setattr(migration, key, body[key])
    session.add(migration)
    session.flush()
    control.add_info_tasks(session, migration)
    return migration


def dispatch(migration_id: str) -> None:
    control.submit(migration_id)


def _kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    return (kind,) if isinstance(kind, str) else kind


def get(
    session, ctx: RequestContext, migration_id: str, with_tasks: bool = True,
    kind: str | tuple[str, ...] = pipeline.MIGRATION,
) -> Migration:
    """A run of ``kind`` (migration, transfer execution, deployment; or one of several) of the caller's project,
    or 404."""
    label = _kinds(kind)[0].replace("_", " ")
    check_id(migration_id, label)
    query = select(Migration).where(
        Migration.id == migration_id, Migration.deleted.is_(False), Migration.project_id == ctx.project_id,
        Migration.type.in_(_kinds(kind)),
    ).options(*UNSEALED)
    if with_tasks:
        query = query.options(selectinload(Migration.tasks))
    migration = session.scalars(query).first()
    if migration is None:
        abort(404, message=f"{label} {migration_id} not found")
    if with_tasks:
        _load_children(session, [migration])
    return migration


def list_(
    session, ctx: RequestContext, args: dict, settings: Settings, with_tasks: bool,
    kind: str | tuple[str, ...] = pipeline.MIGRATION, transfer_id: str | None = None,
) -> list[Migration]:
    """Runs of ``kind`` (or of several kinds; of one transfer when given), paginated."""
    query = select(Migration).where(
        ctx.project_filter(Migration.project_id), Migration.deleted.is_(False), Migration.type.in_(_kinds(kind))
    ).options(*UNSEALED)
    if transfer_id is not None:
        query = query.where(Migration.transfer_id == transfer_id)
    if args.get("status"):
        query = query.where(Migration.status == args["status"])
    if with_tasks:
        query = query.options(selectinload(Migration.tasks))
    query = paginate(session, query, Migration, args, SORT_KEYS, settings.page_limit_max)
    runs = list(session.scalars(query))
    if with_tasks:
        _load_children(session, runs)
    return runs


def cancel(
    session, ctx: RequestContext, migration_id: str, force: bool, settings: Settings,
    kind: str | tuple[str, ...] = pipeline.MIGRATION,
) -> None:
    migration = get(session, ctx, migration_id, with_tasks=False, kind=kind)
    status = MigrationStatus(migration.status)
    label = _kinds(kind)[0].replace("_", " ")
    if status in FINISHED_MIGRATION:
        abort(409, message=f"{label} is already {status}; nothing to cancel")
    if status == MigrationStatus.CANCELLING and not force:
        return  # already under way: a retried cancel succeeds (204), it changes nothing
    session.commit()
    control.cancel(settings, migration_id, force)


def delete(
    session, ctx: RequestContext, migration_id: str, kind: str | tuple[str, ...] = pipeline.MIGRATION
) -> Migration:
    migration = get(session, ctx, migration_id, with_tasks=False, kind=kind)
    label = _kinds(kind)[0].replace("_", " ")
    if migration.status not in FINISHED_MIGRATION:
        abort(
            409,
            message=f"{label} is {migration.status}: only completed, failed or cancelled {label}s "
            "can be deleted; cancel it first",
        )
    migration.deleted = True
    migration.deleted_at = utcnow()
    return migration


def _task_view(task: Task, live: dict[str, Any] | None) -> dict[str, Any]:
    """A task as the response shows it (its updates and events already JSON-ready: ``_children``)."""
    updates, events = _children(task)
    if live and updates and task.status == TaskStatus.RUNNING:
        updates = [*updates[:-1], {**updates[-1], "current_step": live["current_step"],
                                   "total_steps": live["total_steps"]}]
    details = task.exception_details.split("\n\n", 1)[0] if task.exception_details else None
    return {
        **{c: getattr(task, c) for c in (
            "id", "index", "migration_id", "instance", "task_type", "status", "host", "process_id", "depends_on",
            "on_error", "disk_id", "created_at", "started_at", "finished_at",
        )},
        "exception_details": details,
        "progress": live,
        "progress_updates": updates,
        "events": events,
        "result": task.result or {},
    }


_SHOWN_COLUMNS = tuple(c.name for c in Migration.__table__.columns if c.name not in HIDDEN_COLUMNS)


def _shown_tasks(migration: Migration) -> list[Task]:
    return [t for t in migration.tasks if not (t.on_error and t.status in HIDDEN_UNTIL_RUN)]


def live_progress(runs: list[Migration], store: ProgressStore | None) -> dict[str, dict[str, Any]]:
    """The live Redis progress of every running task of ``runs``, read in one round trip."""
    running = [t.id for m in runs for t in _shown_tasks(m) if t.status == TaskStatus.RUNNING]
    return store.read_many(running) if store and running else {}


def present_many(runs: list[Migration], store: ProgressStore | None, with_tasks: bool) -> list[dict[str, Any]]:
    """``present`` for a page of runs, with one Redis read for the whole page."""
    live = live_progress(runs, store) if with_tasks else {}
    return [present(m, store, with_tasks, live) for m in runs]


def present(
    migration: Migration, store: ProgressStore | None, with_tasks: bool, live: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The response document: live Redis progress merged over what the database holds.

    Connection info shows as its plain redacted sibling (the trust id never shows: ``redaction``).
    ``live``: the live progress already read for a page (``live_progress``); else read here.
    """
    data = {name: getattr(migration, name) for name in _SHOWN_COLUMNS}
    origin_info = shown_connection_info(migration, CONNECTION_COLUMNS[0])
    destination_info = shown_connection_info(migration, CONNECTION_COLUMNS[1])
    data["origin"] = {**migration.origin, "connection_info": origin_info}
    data["destination"] = {**migration.destination, "connection_info": destination_info}
    data["info"] = instance_info.run_info(migration.info)
    data["transfer_result"] = instance_info.transfer_result(migration.transfer_result)
    data["storage_mappings"] = inventory.storage_mappings(migration.storage_mappings)
    data["last_execution_status"] = migration.status
    data.update(UPSTREAM_DEFAULTS, base_id=migration.id)
    if not with_tasks:
        return data
    tasks = _shown_tasks(migration)
    if live is None:
        live = live_progress([migration], store)
    data["tasks"] = [_task_view(t, live.get(t.id)) for t in tasks]
    # planning adds the stage tasks: counting only those keeps the overall figure from going back
    stage_tasks = [t for t in tasks if not t.on_error and t.task_type != pipeline.INFO_TASK]
    done = sum(1 for t in stage_tasks if t.status == TaskStatus.COMPLETED)
    partial = sum((live.get(t.id) or {}).get("percent") or 0 for t in stage_tasks) / 100
    data["progress"] = {
        "tasks_total": len(stage_tasks),
        "tasks_completed": done,
        "percent": round(100 * (done + partial) / len(stage_tasks), 1) if stage_tasks else 0.0,
    }
    return data
