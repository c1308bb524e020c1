"""Stalled runs: a task ready to run whose message is gone is dispatched again, with what follows it.

A stage hands over to the next by publishing the next message of the canvas when it ends. When
the broker restarts at that moment, or a worker main process dies holding prefetched messages
(kombu's Redis transport crashes the main process when Redis goes away with a late-acked task
running), that message can be lost: the run would wait for ``visibility_timeout`` (hours) or for
ever. The reaper (beat, every ``reaper_interval``) looks for instances of RUNNING runs with no
task in flight and a SCHEDULED/PENDING task whose dependencies all completed more than
``stalled_seconds`` ago, and whose message is neither queued nor held by a worker; it then
dispatches the instance's unfinished tasks again (``pipeline.build`` over them: the signatures
carry only ids). Stages are idempotent and claimed atomically (``coriolis_tasks/claims.py``), so
a message that was not lost after all only runs a stage that is not already running or done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import func, select

from coriolis.config import Settings
from coriolis.database.models import Migration, Task, TaskEvent, utcnow
from coriolis.database.session import session_scope
from coriolis.statuses import MigrationStatus, TaskStatus
from coriolis_tasks import pipeline
from coriolis_tasks.app import celery_app  # noqa: F401 - the canvas is sent through this app

log = logging.getLogger(__name__)
READY = (TaskStatus.SCHEDULED, TaskStatus.PENDING)
IN_FLIGHT = (TaskStatus.RUNNING, TaskStatus.WAITING, TaskStatus.CANCELLING)
# kombu's Redis transport: a queue's list per priority step (``<queue>\x06\x16<n>`` above 0),
# and one hash of the messages workers hold unacknowledged (prefetched, running, or with an ETA)
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
_UNACKED_KEY = "unacked"
_MARK_KEY = "coriolis:stalled:{prefix}{task_id}"


@dataclass(frozen=True)
class Stall:
    """An instance of a run that waits for a task nobody will run."""

    migration_id: str
    instance: str
    task_id: str  # the first ready task (the one whose message is looked for)
    task_type: str
    queue: str
    ready_since: datetime


def find_stalls(settings: Settings, now: datetime | None = None) -> list[Stall]:
    """Instances of RUNNING runs with no task in flight and a task ready for over ``stalled_seconds``."""
    now = now or utcnow()
    with session_scope(settings.database_url) as s:
        migration_ids = s.scalars(
            select(Task.migration_id).distinct()
            .join(Migration, Migration.id == Task.migration_id)
            .where(Migration.status == MigrationStatus.RUNNING, Task.status.in_(READY), Task.on_error.is_(False))
        ).all()
        stalls = []
        for migration_id in migration_ids:
            tasks = s.scalars(select(Task).where(Task.migration_id == migration_id, Task.on_error.is_(False))).all()
            stalls += _stalls_of(migration_id, tasks, now, settings.stalled_seconds)
    return stalls


def _stalls_of(migration_id: str, tasks: Iterable[Task], now: datetime, after: float) -> list[Stall]:
    by_id = {t.id: t for t in tasks}
    by_instance: dict[str, list[Task]] = {}
    for task in by_id.values():
        by_instance.setdefault(task.instance, []).append(task)
    stalls = []
    for instance, rows in by_instance.items():
        if any(t.status in IN_FLIGHT for t in rows):
            continue  # whatever runs hands over when it ends (or the lost-task check fails it)
        for task in sorted(rows, key=lambda t: t.index):
            if task.status not in READY or task.task_type not in pipeline.STAGE_BY_TYPE:
                continue
            deps = [by_id.get(d) for d in task.depends_on or []]
            if not deps or any(d is None or d.status != TaskStatus.COMPLETED for d in deps):
                continue
            since = max(d.finished_at or d.updated_at or d.created_at for d in deps)
            if (now - since).total_seconds() > after:
                stalls.append(Stall(migration_id, instance, task.id, task.task_type, task.queue, since))
                break
    return stalls


def queued_task_ids(settings: Settings, task_ids: dict[str, str]) -> set[str] | None:
    """Which of ``task_ids`` (id -> pool queue) have a message queued or held by a worker.

    None when the broker cannot be searched (only a Redis broker can).
    """
    url = settings.effective_broker_url
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = redis.Redis.from_url(url)
    try:
        wanted = {tid.encode(): tid for tid in task_ids}
        found: set[str] = set()

        def scan(blob: bytes) -> None:
            for key, tid in wanted.items():
                if key in blob:
                    found.add(tid)

        for queue in {settings.queue(q) for q in task_ids.values()}:
            for step in _PRIORITY_STEPS:
                for blob in client.lrange(queue if not step else f"{queue}{_PRIORITY_SEP}{step}", 0, -1):
                    scan(blob)
        for _tag, blob in client.hscan_iter(_UNACKED_KEY, count=500):
            scan(blob)
        return found
    finally:
        client.close()


def redispatch(settings: Settings, stall: Stall) -> bool:
    """Dispatch the unfinished tasks of the stalled instance again; whether it was done."""
    with session_scope(settings.database_url) as s:
        migration = s.get(Migration, stall.migration_id)
        if migration is None or migration.status != MigrationStatus.RUNNING:
            return False
        rows = s.scalars(
            select(Task)
            .where(Task.migration_id == stall.migration_id, Task.instance == stall.instance, Task.on_error.is_(False))
            .order_by(Task.index)
        ).all()
        if any(t.status in IN_FLIGHT for t in rows):
            return False
        todo = [(t.id, t.task_type, t.disk_id, t.instance) for t in rows if t.status in READY]
        if not todo:
            return False
    pipeline.build(todo, stall.migration_id).apply_async()
    waited = int((utcnow() - stall.ready_since).total_seconds())
    message = (
        f"dispatched again: ready for {waited} s but its message was lost "
        "(a broker restart or a worker crash during the hand-over)"
    )
    log.warning("migration %s instance %r: %s %s %s", stall.migration_id, stall.instance, stall.task_type,
                stall.task_id, message)
    with session_scope(settings.database_url) as s:
        count = s.scalar(select(func.count()).where(TaskEvent.task_id == stall.task_id)) or 0
        s.add(TaskEvent(task_id=stall.task_id, index=count + 1, level="WARNING", message=message))
    return True


def redispatch_stalled(settings: Settings, client: redis.Redis) -> list[str]:
    """One check: the ids of the stalled tasks dispatched again (see the module docstring).

    Args:
        settings: the settings (``stalled_seconds``, broker, database).
        client: the progress store's Redis; without a searchable broker it remembers which
            tasks were dispatched again, so each is at most once per ``10 * stalled_seconds``.
    """
    stalls = find_stalls(settings)
    if not stalls:
        return []
    queued = queued_task_ids(settings, {st.task_id: st.queue for st in stalls})
    done = []
    for stall in stalls:
        if queued is not None and stall.task_id in queued:
            continue  # waiting its turn in a busy queue, or held by a worker: not lost
        if queued is None:
            mark = _MARK_KEY.format(prefix=settings.queue_prefix, task_id=stall.task_id)
            if not client.set(mark, "1", nx=True, ex=int(max(10 * settings.stalled_seconds, 600))):
                continue
        if redispatch(settings, stall):
            done.append(stall.task_id)
    return done
