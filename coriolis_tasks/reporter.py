"""The reporter a stage hands to providers: live progress to Redis, steps and events to the database."""

from __future__ import annotations

import logging
import time

import redis
from sqlalchemy import func, select

from coriolis.database.models import ProgressUpdate, TaskEvent
from coriolis.database.session import session_scope
from coriolis.progress import ProgressStore, progress_state
from coriolis.secrets import masking
from providers.types import Cancelled

log = logging.getLogger(__name__)


class TaskReporter:
    """Implements ``providers.types.Reporter`` for one running task.

    ``step`` writes the live state to Redis at most every ``interval`` seconds and raises
    ``Cancelled`` once the migration's abort flag is set; while Redis is unreachable the live
    write and the check are skipped rather than failing the stage. A new step message becomes a
    progress-update row; ``info``/``warn`` become event rows at once, so the database keeps
    everything a finished stage said even if Redis is lost.
    """

    def __init__(
        self, task_id: str, migration_id: str, store: ProgressStore, db_url: str, interval: float = 0.5
    ) -> None:
        self.task_id = task_id
        self.migration_id = migration_id
        self.store = store
        self.db_url = db_url
        self.interval = interval
        self.started = time.time()
        self._last_write = 0.0
        self._last_check = 0.0
        self._message: str | None = None
        self._state: dict | None = None
        self._update_id: str | None = None
        self._last_redis_warning = -1e9

    def check(self) -> None:
        """Raise ``Cancelled`` when the migration is being cancelled or failed elsewhere."""
        now = time.monotonic()
        if now - self._last_check < self.interval:
            return
        self._last_check = now
        try:
            reason = self.store.abort_reason(self.migration_id)
        except redis.RedisError as exc:  # Redis is away: keep going, the next check asks again
            self._redis_down(exc)
            return
        if reason:
            raise Cancelled(reason)

    def step(self, done: int, total: int | None, message: str = "") -> None:
        if message != self._message:
            self._message = message
            self._new_update(done, total, message)
        self._state = progress_state(done, total, message, self.started)
        now = time.monotonic()
        if now - self._last_write >= self.interval:
            self._last_write = now
            self._write_live()
        self.check()

    def info(self, message: str) -> None:
        self._event("INFO", message)

    def warn(self, message: str) -> None:
        self._event("WARNING", message)

    def error(self, message: str) -> None:
        self._event("ERROR", message)

    def flush(self) -> None:
        """Persist the last state: the database row of the current step, and Redis."""
        if not self._state:
            return
        self._write_live()
        if self._update_id:
            with session_scope(self.db_url) as s:
                row = s.get(ProgressUpdate, self._update_id)
                if row is not None:
                    row.current_step = self._state["current_step"]
                    row.total_steps = self._state["total_steps"]

    def _write_live(self) -> None:
        """The live state to Redis; skipped while Redis is away (the database keeps each step)."""
        try:
            self.store.write(self.task_id, self._state or {})
        except redis.RedisError as exc:
            self._redis_down(exc)

    def _redis_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_redis_warning >= 30:
            self._last_redis_warning = now
            log.warning("task %s: live progress not written, Redis unreachable: %s", self.task_id, exc)

    def _new_update(self, done: int, total: int | None, message: str) -> None:
        if self._update_id and self._state:
            self.flush()
        with session_scope(self.db_url) as s:
            index = s.scalar(select(func.count()).where(ProgressUpdate.task_id == self.task_id)) or 0
            row = ProgressUpdate(
                task_id=self.task_id, index=index + 1, current_step=done, total_steps=total, message=message
            )
            s.add(row)
            s.flush()
            self._update_id = row.id

    def _event(self, level: str, message: str) -> None:
        message = masking.mask(message)
        log.log(logging.WARNING if level != "INFO" else logging.INFO, "task %s: %s", self.task_id, message)
        with session_scope(self.db_url) as s:
            index = s.scalar(select(func.count()).where(TaskEvent.task_id == self.task_id)) or 0
            s.add(TaskEvent(task_id=self.task_id, index=index + 1, level=level, message=message))
