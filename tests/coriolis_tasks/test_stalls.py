"""Stalled runs (coriolis_tasks/stalls.py): found from the database, searched for in the real Redis broker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from celery import signature
from celery.signals import before_task_publish
from kombu import Queue
from sqlalchemy import select

from coriolis.database.models import Migration, Task, TaskEvent, utcnow
from coriolis.database.session import session_scope
from coriolis.statuses import MigrationStatus, TaskStatus
from coriolis_tasks import pipeline, stalls
from coriolis_tasks.app import celery_app
from tests.conftest import make_settings

LONG_AGO = timedelta(seconds=600)


def seed_run(url: str, done: int, ago: timedelta = LONG_AGO, disks: int = 1,
             status: MigrationStatus = MigrationStatus.RUNNING) -> list[str]:
    """A migration of one instance planned as the pipeline does, its first ``done`` tasks COMPLETED ``ago``.

    The ids of its tasks in plan order (the info task first, the cleanup task last).
    """
    with session_scope(url) as s:
        m = Migration(project_id="stalls", user_id="u", status=status, origin={"type": "stub"},
                      destination={"type": "stub"}, instances=["vm"], dispatched=True)
        s.add(m)
        s.flush()
        info = Task(migration_id=m.id, index=1, instance="vm", task_type=pipeline.INFO_TASK, queue="plan",
                    status=TaskStatus.COMPLETED, depends_on=[], finished_at=utcnow() - ago)
        s.add(info)
        s.flush()
        ids = {"info": info.id}
        rows = [info]
        for n, planned in enumerate(pipeline.plan_instance("vm", [f"disk{d}" for d in range(disks)], "info"), 2):
            task = Task(migration_id=m.id, index=n, instance="vm", task_type=planned.task_type, queue=planned.queue,
                        disk_id=planned.disk_id, status=TaskStatus.SCHEDULED, on_error=planned.on_error,
                        depends_on=[ids[k] for k in planned.depends_on])
            s.add(task)
            s.flush()
            ids[planned.key] = task.id
            rows.append(task)
        for task in rows[1:done + 1]:
            task.status, task.finished_at = TaskStatus.COMPLETED, utcnow() - ago
        return [t.id for t in rows]


@pytest.fixture()
def published():
    """Task ids published by this process meanwhile (the real publish path, to the real broker)."""
    ids: list[str] = []

    def record(headers=None, **_kw):
        ids.append((headers or {}).get("id"))

    before_task_publish.connect(record, weak=False)
    yield ids
    before_task_publish.disconnect(record)


def test_a_ready_task_waiting_too_long_is_a_stall(db_url):
    settings = make_settings(db_url, stalled_seconds=60)
    ids = seed_run(db_url, done=1)  # export done 10 min ago, convert never started
    found = [st for st in stalls.find_stalls(settings) if st.task_id == ids[2]]
    assert len(found) == 1 and found[0].task_type == "CONVERT_DISK" and found[0].instance == "vm"


@pytest.mark.parametrize("case", ["recent", "running", "waiting", "not running", "all done"])
def test_no_stall(db_url, case):
    settings = make_settings(db_url, stalled_seconds=60)
    if case == "recent":
        ids = seed_run(db_url, done=1, ago=timedelta(seconds=5))
    elif case == "not running":
        ids = seed_run(db_url, done=1, status=MigrationStatus.CANCELLING)
    elif case == "all done":
        ids = seed_run(db_url, done=6)
    else:
        ids = seed_run(db_url, done=1, disks=2)  # disk1's export still reads (or waits for a slot)
        with session_scope(db_url) as s:
            export1 = s.scalars(select_task(ids, "EXPORT_DISK", "disk1")).one()
            export1.status = TaskStatus.RUNNING if case == "running" else TaskStatus.WAITING
    assert not [st for st in stalls.find_stalls(settings) if st.task_id in ids]


def select_task(ids, task_type, disk_id):
    return select(Task).where(Task.id.in_(ids), Task.task_type == task_type, Task.disk_id == disk_id)


def test_a_stalled_instance_is_dispatched_again_from_its_first_unfinished_task(db_url, published):
    settings = make_settings(db_url, stalled_seconds=60)
    ids = seed_run(db_url, done=1)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        done = stalls.redispatch_stalled(settings, client)
    finally:
        client.close()
    assert ids[2] in done
    # the rest of the pipeline as a chain: only convert is sent now, each next stage as one ends
    assert [t for t in published if t in ids] == [ids[2]]
    with session_scope(db_url) as s:
        events = s.scalars(select(TaskEvent).where(TaskEvent.task_id == ids[2])).all()
        assert any(e.level == "WARNING" and "dispatched again" in e.message for e in events)


@pytest.fixture()
def private_queues(db_url):
    """Settings whose queues no worker consumes (a prefix of their own), and their cleanup."""
    settings = make_settings(db_url, stalled_seconds=60, queue_prefix=f"stall{uuid.uuid4().hex[:8]}-")
    yield settings
    client = redis.Redis.from_url(settings.effective_broker_url)
    for key in client.scan_iter(f"{settings.queue_prefix}*"):
        client.delete(key)
    client.close()


def test_a_queued_message_is_found_and_not_dispatched_again(db_url, private_queues, published):
    settings = private_queues
    ids = seed_run(db_url, done=1)
    convert = ids[2]
    assert stalls.queued_task_ids(settings, {convert: "convert"}) == set()
    signature("coriolis.stage.convert", args=(convert,), task_id=convert, app=celery_app).apply_async(
        queue=settings.queue("convert"))
    assert stalls.queued_task_ids(settings, {convert: "convert"}) == {convert}
    published.clear()
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert convert not in stalls.redispatch_stalled(settings, client)
    finally:
        client.close()
    assert convert not in published


def test_a_message_held_unacknowledged_by_a_worker_is_found(db_url, private_queues):
    settings = private_queues
    convert = seed_run(db_url, done=1)[2]
    signature("coriolis.stage.convert", args=(convert,), task_id=convert, app=celery_app).apply_async(
        queue=settings.queue("convert"))
    with celery_app.connection_for_read() as conn:
        queue = conn.SimpleQueue(Queue(settings.queue("convert"), routing_key=settings.queue("convert")))
        message = queue.get(timeout=5)  # taken, not acknowledged: kombu keeps it in the unacked hash
        try:
            assert client_has_no_queue_entry(settings) and stalls.queued_task_ids(
                settings, {convert: "convert"}) == {convert}
        finally:
            message.ack()
            queue.close()
    assert stalls.queued_task_ids(settings, {convert: "convert"}) == set()


def client_has_no_queue_entry(settings) -> bool:
    client = redis.Redis.from_url(settings.effective_broker_url)
    try:
        return client.llen(settings.queue("convert")) == 0
    finally:
        client.close()


def test_without_a_searchable_broker_each_stall_is_dispatched_again_once(db_url, published):
    settings = make_settings(db_url, stalled_seconds=60, broker_url="amqp://guest:guest@127.0.0.1:5672//")
    convert = seed_run(db_url, done=1)[2]
    assert stalls.queued_task_ids(settings, {convert: "convert"}) is None
    client = redis.Redis.from_url(settings.redis_url)
    sent = []
    try:
        for _ in range(2):
            sent += [t for t in stalls.redispatch_stalled(settings, client) if t == convert]
    finally:
        client.close()
    assert sent == [convert]
