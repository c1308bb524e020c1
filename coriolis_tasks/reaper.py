"""The lost-task reaper: fails the tasks whose worker node has died, so none stays RUNNING forever.

A pool child that dies has its task requeued by Celery at once (``task_reject_on_worker_lost``),
and the stage reruns. A worker whose main process dies leaves its message unacknowledged in the
broker until ``visibility_timeout`` (hours). The reaper covers that case: beat runs it every
``reaper_interval`` seconds; it pings the node (``Task.host``) of every RUNNING task, remembers
in Redis since when a node has stopped answering, and once a node has missed two checks in a
row spanning at least ``lost_task_seconds`` it fails its tasks ("worker <host> lost") through
the usual failure path: siblings stop, cleanup runs, the migration ends ERROR.

The same check dispatches again the runs whose hand-over message was lost (a task ready for
more than ``stalled_seconds`` whose message is nowhere in the broker: ``coriolis_tasks/stalls.py``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from sqlalchemy import select

from coriolis.config import Settings, get_settings
from coriolis.database.models import Migration, Task, utcnow
from coriolis.database.session import session_scope
from coriolis.statuses import MigrationStatus, TaskStatus
from coriolis_tasks import broadcast, read_slots, stalls
from coriolis_tasks.app import celery_app
from coriolis_tasks.runtime import fail_migration, store_for

log = logging.getLogger(__name__)
PING_TIMEOUT = 2.0
_MISS_KEY = "coriolis:reaper:miss:{host}"
_LOCK_KEY = "coriolis:reaper:lock:{prefix}"


def running_hosts(settings: Settings) -> dict[str, list[str]]:
    """Worker node names (``name@host``) of RUNNING stage tasks, with their task ids."""
    with session_scope(settings.database_url) as s:
        rows = s.execute(
            select(Task.id, Task.host).where(Task.status == TaskStatus.RUNNING, Task.on_error.is_(False))
        ).all()
    hosts: dict[str, list[str]] = {}
    for task_id, host in rows:
        if host and "@" in host:  # a Celery node name; anything else is not ours to ping
            hosts.setdefault(host, []).append(task_id)
    return hosts


def answering(hosts: list[str], timeout: float = PING_TIMEOUT) -> set[str]:
    """The nodes among ``hosts`` that answer a ping within ``timeout`` seconds."""
    replies = broadcast.ping(hosts, timeout)
    return {name for reply in replies for name in reply}


def note_misses(
    client: redis.Redis, hosts: list[str], alive: set[str], lost_after: float, interval: float
) -> list[str]:
    """Record this check's misses; the nodes lost by now (two misses in a row over ``lost_after`` s).

    A miss more than three ``interval``s after the previous one starts a new series: misses
    count only when consecutive.
    """
    now = time.time()
    lost = []
    for host in hosts:
        key = _MISS_KEY.format(host=host)
        if host in alive:
            client.delete(key)
            continue
        last = client.hget(key, "last")
        if last is not None and now - float(last) > 3 * interval:
            client.delete(key)
        client.hsetnx(key, "first", now)
        client.hset(key, "last", now)
        misses = client.hincrby(key, "count", 1)
        client.expire(key, int(max(lost_after * 4, 600)))
        first = float(client.hget(key, "first") or now)
        if misses >= 2 and now - first >= lost_after:
            lost.append(host)
    return lost


def fail_lost(settings: Settings, host: str, task_ids: list[str]) -> list[str]:
    """Mark the tasks of a lost node ERROR and fail their migrations; the migrations failed."""
    reason = f"worker {host} lost"
    failed: list[tuple[str, str]] = []
    reaped: list[str] = []
    with session_scope(settings.database_url) as s:
        for task in s.scalars(select(Task).where(Task.id.in_(task_ids), Task.host == host)):
            if task.status != TaskStatus.RUNNING:
                continue  # it finished, or was redelivered elsewhere, since the check began
            reaped.append(task.id)
            task.status = TaskStatus.ERROR
            task.finished_at = utcnow()
            task.exception_details = f"{reason}: it stopped answering while this task ran (pid {task.process_id})"
            migration = s.get(Migration, task.migration_id)
            if migration is not None and migration.status == MigrationStatus.RUNNING:
                where = f"{task.task_type} of instance {task.instance!r}" + (
                    f" disk {task.disk_id}" if task.disk_id else ""
                )
                failed.append((task.migration_id, f"{where} failed: {reason}"))
    read_slots.forget(store_for(settings).client, reaped, settings.queue_prefix)
    for migration_id, message in dict(failed).items():
        log.error("migration %s: %s", migration_id, message)
        fail_migration(settings, migration_id, message)
    return list(dict(failed))


def reap(settings: Settings, ping_timeout: float = PING_TIMEOUT) -> dict[str, Any]:
    """One check: the nodes found lost, the migrations failed because of them, the stalled tasks dispatched again."""
    client = store_for(settings).client
    lock = _LOCK_KEY.format(prefix=settings.queue_prefix)
    if not client.set(lock, "1", nx=True, ex=int(max(settings.reaper_interval * 2, 30))):
        return {"skipped": "another check is running"}
    try:
        lost: list[str] = []
        failed: list[str] = []
        hosts = running_hosts(settings)
        if hosts:
            alive = answering(list(hosts), ping_timeout)
            lost = note_misses(client, list(hosts), alive, settings.lost_task_seconds, settings.reaper_interval)
            for host in lost:
                failed += fail_lost(settings, host, hosts[host])
                client.delete(_MISS_KEY.format(host=host))
        return {"lost": lost, "failed": failed, "redispatched": stalls.redispatch_stalled(settings, client)}
    finally:
        client.delete(lock)


@celery_app.task(name="coriolis.control.reap_lost_tasks", ignore_result=True)
def reap_lost_tasks() -> dict[str, Any]:
    """Beat's periodic check for tasks whose worker node died (see the module docstring)."""
    return reap(get_settings())
