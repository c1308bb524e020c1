"""The atomic claim of a stage task (coriolis_tasks/claims.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from celery.exceptions import Ignore

from coriolis.children import process_alive
from coriolis.database.models import Migration, Task
from coriolis.database.session import session_scope
from coriolis.statuses import TaskStatus
from coriolis_tasks import claims, runtime
from tests.conftest import make_settings

ME = "node-test@here"


def seed_task(url: str, status: TaskStatus = TaskStatus.SCHEDULED, host: str | None = None,
              pid: int | None = None) -> str:
    with session_scope(url) as s:
        m = Migration(project_id="claims", user_id="u", status="RUNNING", origin={"type": "stub"},
                      destination={"type": "stub"}, instances=["vm"], dispatched=True)
        s.add(m)
        s.flush()
        t = Task(migration_id=m.id, index=1, instance="vm", task_type="CONVERT_DISK", queue="convert",
                 disk_id="disk0", status=status, depends_on=[], host=host, process_id=pid)
        s.add(t)
        s.flush()
        return t.id


def claim_in_threads(url: str, task_id: str, count: int, takeover: bool = False) -> list[bool]:
    """``count`` sessions read the task, then all claim it at once, each holding its transaction a while."""
    barrier = threading.Barrier(count)
    results: list[bool] = []
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            with session_scope(url) as s:
                task = s.get(Task, task_id)
                barrier.wait(10)
                won = claims.claim(s, task, f"node-{n}@here", 1000 + n, takeover)
                results.append(won)
                time.sleep(0.2)  # the winner commits late: the others must not slip in meanwhile
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_one_of_many_concurrent_claims_wins(db_url):
    task_id = seed_task(db_url)
    results = claim_in_threads(db_url, task_id, 6)
    assert sorted(results) == [False] * 5 + [True]
    with session_scope(db_url) as s:
        task = s.get(Task, task_id)
        assert task.status == TaskStatus.RUNNING
        assert task.host.startswith("node-") and task.process_id >= 1000 and task.started_at is not None


def test_only_one_takeover_of_a_gone_holder(db_url):
    task_id = seed_task(db_url, TaskStatus.RUNNING, "node-dead@here", 4242)
    assert sorted(claim_in_threads(db_url, task_id, 4, takeover=True)) == [False] * 3 + [True]


@pytest.mark.parametrize("status", [TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.ERROR])
def test_no_claim_without_takeover_or_once_finished(db_url, status):
    task_id = seed_task(db_url, status, "node-x@here", 1)
    with session_scope(db_url) as s:
        assert claims.claim(s, s.get(Task, task_id), ME, os.getpid()) is False
    with session_scope(db_url) as s:
        assert s.get(Task, task_id).status == status and s.get(Task, task_id).host == "node-x@here"


def test_holder_on_this_node_is_gone_when_its_process_is():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert claims.holder_gone("t", ME, child.pid, ME) is True
    assert claims.holder_gone("t", ME, os.getppid(), ME) is False  # alive: a duplicate delivery
    assert claims.holder_gone("t", ME, os.getpid(), ME) is True  # this process is done with it
    assert claims.holder_gone("t", None, None, ME) is True


def test_a_zombie_holder_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        assert process_alive(child.pid) is False
    finally:
        child.wait()


def test_holder_on_a_silent_node_is_gone():
    # no such node answers on the broker: its task is taken over (after the inspect timeout)
    assert claims.holder_gone("t", "node-nowhere@elsewhere", 1, ME) is True


def test_duplicate_delivery_of_a_running_stage_is_ignored(db_url):
    settings = make_settings(db_url)
    task_id = seed_task(db_url, TaskStatus.RUNNING, ME, os.getppid())
    with pytest.raises(Ignore):
        runtime._start(settings, task_id, ME)
    with session_scope(db_url) as s:
        task = s.get(Task, task_id)
        assert (task.status, task.host, task.process_id) == (TaskStatus.RUNNING, ME, os.getppid())


def test_redelivery_after_the_holder_died_reruns_the_stage(db_url):
    settings = make_settings(db_url)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    task_id = seed_task(db_url, TaskStatus.RUNNING, ME, child.pid)
    run = runtime._start(settings, task_id, ME)
    assert isinstance(run, runtime.StageRun)
    with session_scope(db_url) as s:
        task = s.get(Task, task_id)
        assert (task.status, task.host, task.process_id) == (TaskStatus.RUNNING, ME, os.getpid())
