"""``GET /health/ready``: the database, Redis and, for every queue, a worker that answers.

``/health`` says the API process can serve (database and Redis); ``/health/ready`` says the
service can run a migration end to end now. Asking the workers takes up to a second, so the
answer is cached for a few seconds per API process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify

from coriolis.config import Settings

CACHE_SECONDS = 5.0
PING_TIMEOUT = 1.0


class WorkerCheck:
    """The cached answer to "which workers consume each queue"."""

    def __init__(self, lookup: Callable[[], dict[str, list[str]]], ttl: float = CACHE_SECONDS) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._value: dict[str, list[str]] | str = {}

    def get(self) -> dict[str, list[str]] | str:
        """The consumers per queue, or an error string when the broker could not be asked."""
        with self._lock:  # one lookup at a time; the others wait and reuse it
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._value = self.lookup()
                except Exception as exc:  # reported as not ready, never a 500
                    self._value = f"error: {type(exc).__name__}"
                self._at = time.monotonic()
            return self._value


def _consumers() -> dict[str, list[str]]:
    from coriolis_tasks.health import queue_consumers
    from coriolis_tasks.pipeline import QUEUES

    return queue_consumers(QUEUES, timeout=PING_TIMEOUT)


def register(app: Flask, settings: Settings, base_checks: Callable[[], Any]) -> None:
    """Serve ``/health/ready``; ``base_checks`` is the ``/health`` view (database and Redis)."""
    workers = WorkerCheck(_consumers)

    def ready():
        base, _code = base_checks()
        checks = dict(base.get_json()["checks"])
        consumers = workers.get()
        if isinstance(consumers, str):
            checks["workers"] = consumers
        else:
            missing = sorted(q for q, names in consumers.items() if not names)
            checks["workers"] = f"error: no worker answers for {', '.join(missing)}" if missing else "ok"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ok else "not ready", "checks": checks}
        if not isinstance(consumers, str):
            body["queues"] = consumers
        return jsonify(body), 200 if ok else 503

    app.add_url_rule("/health/ready", "ready", ready)
