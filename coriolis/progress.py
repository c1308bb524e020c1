"""Live state in Redis: per-task progress that the API polls, and cancel flags."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import redis

PROGRESS_TTL = 7 * 24 * 3600


@functools.cache
def get_redis(url: str) -> redis.Redis:
    """One client (and connection pool) per URL and process."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, health_check_interval=30)


class ProgressStore:
    """Reads and writes the live state of tasks and migrations.

    Keys: ``coriolis:progress:<task_id>`` (a JSON document) and
    ``coriolis:abort:<migration_id>`` (set when a migration is cancelled or failed,
    its value says why).
    """

    def __init__(self, client: redis.Redis, prefix: str = "coriolis") -> None:
        self.client = client
        self.prefix = prefix

    def _progress_key(self, task_id: str) -> str:
        return f"{self.prefix}:progress:{task_id}"

    def _abort_key(self, migration_id: str) -> str:
        return f"{self.prefix}:abort:{migration_id}"

    def write(self, task_id: str, state: dict[str, Any]) -> None:
        self.client.set(self._progress_key(task_id), json.dumps(state), ex=PROGRESS_TTL)

    def read_many(self, task_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The live state of each task that has one (tasks without one are left out)."""
        if not task_ids:
            return {}
        try:
            values = self.client.mget([self._progress_key(t) for t in task_ids])
        except redis.RedisError:
            return {}  # the database still has each finished stage
        return {t: json.loads(v) for t, v in zip(task_ids, values, strict=True) if v}

    def abort(self, migration_id: str, reason: str) -> None:
        """Ask every task of the migration to stop at its next check (first reason wins)."""
        self.client.set(self._abort_key(migration_id), reason, ex=PROGRESS_TTL, nx=True)

    def abort_reason(self, migration_id: str) -> str | None:
        return self.client.get(self._abort_key(migration_id))


def progress_state(done: int, total: int | None, message: str, started: float, now: float | None = None) -> dict:
    """The JSON document stored for a task: percent, bytes, rate and message."""
    now = time.time() if now is None else now
    elapsed = max(now - started, 1e-6)
    percent = round(100.0 * done / total, 2) if total else None
    return {
        "current_step": done,
        "total_steps": total,
        "percent": percent,
        "rate": round(done / elapsed, 1),
        "message": message,
        "updated_at": now,
    }
