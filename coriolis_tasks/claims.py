"""The claim of a stage task by one delivery of its message: a stage never runs twice at once.

A task's message can be delivered more than once: Redis redelivers an unacknowledged message
after ``visibility_timeout``, a pool child that dies has its message requeued, and the reaper
re-dispatches a run whose hand-off message was lost (``coriolis_tasks/stalls.py``). Whichever
delivery moves the row to RUNNING first, with a compare-and-set ``UPDATE``, runs the stage; the
others find it RUNNING and stand aside, unless the process holding it is provably gone.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy import update
from sqlalchemy.orm import Session

from coriolis.children import process_alive
from coriolis.database.models import Task, utcnow
from coriolis.statuses import TaskStatus

log = logging.getLogger(__name__)
CLAIMABLE = (TaskStatus.SCHEDULED, TaskStatus.PENDING, TaskStatus.WAITING)
HOLDER_PING_TIMEOUT = 3.0


def claim(session: Session, task: Task, host: str, pid: int, takeover: bool = False) -> bool:
    """Move ``task`` to RUNNING for (``host``, ``pid``) if nobody else did; whether this call did.

    A task still RUNNING is taken over only with ``takeover`` (its holder is gone: see
    ``holder_gone``), and only from the holder that was read. The
    ``UPDATE`` is conditional on the status (and holder) read, so of two concurrent deliveries
    exactly one succeeds, on PostgreSQL (the second waits for the first's row lock, then finds
    the row changed) as on SQLite (one writer at a time).

    Args:
        session: the session ``task`` was loaded in; the claim is part of its transaction.
        task: the task row.
        host: the claiming worker's node name (``name@host``).
        pid: the claiming process.
        takeover: the caller found the RUNNING task's holder gone.
    """
    condition = [Task.id == task.id]
    if task.status == TaskStatus.RUNNING:
        if not takeover:
            return False
        log.warning("task %s: taking over from %s (pid %s), which is gone", task.id, task.host, task.process_id)
        condition += [Task.status == TaskStatus.RUNNING, Task.host == task.host, Task.process_id == task.process_id]
    elif task.status in CLAIMABLE:
        condition.append(Task.status.in_(CLAIMABLE))
    else:
        return False
    claimed = session.execute(
        update(Task).where(*condition).values(status=TaskStatus.RUNNING, host=host, process_id=pid, started_at=utcnow())
    )
    if claimed.rowcount != 1:
        session.expire(task)
        return False
    return True


def holder_gone(task_id: str, holder: str | None, pid: int | None, me: str) -> bool:
    """Whether the process recorded as running a task no longer runs it.

    On this node: its process is gone (or is this one, which has finished with it). On another
    node: that node does not list the task among its active ones (or does not answer).
    """
    if not holder or pid is None:
        return True
    if holder == me or "@" not in holder:
        return pid == os.getpid() or not process_alive(pid)
    return not _node_runs(holder, task_id)


def _node_runs(node: str, task_id: str) -> bool:
    from coriolis_tasks.broadcast import inspector

    with inspector(HOLDER_PING_TIMEOUT, [node]) as inspect:
        replies = inspect.active() or {}
    return any(request.get("id") == task_id for request in replies.get(node, []))
