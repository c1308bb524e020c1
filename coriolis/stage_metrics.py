"""Counters kept in Redis as stages end: durations, bytes moved and failures, read by the API's ``/metrics``.

Workers write at the end of each stage run (``runtime.run_stage``); the API reads the whole
store with one ``HGETALL``, so scraping costs the same however many migrations there are.
The hash ``<queue_prefix>coriolis:metrics`` holds, per task type:

* ``seconds|<type>|<le>`` how many runs took at most ``le`` seconds (and more than the
  bucket below), ``seconds_sum|<type>``, ``seconds_count|<type>``;
* ``bytes|<type>`` bytes of disk images a stage produced (``EXPORT_DISK``/``REPLICATE_DISK``:
  read from the source; ``IMPORT_INSTANCE``: written to the destination);
* ``failures|<type>|<reason>`` failed runs, ``reason`` being the exception's class name.

They are counters: they only grow, and start again from zero if Redis loses its data.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis

log = logging.getLogger(__name__)

BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, math.inf)


def _bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else str(int(bound))


def bytes_of(task_type: str, result: dict[str, Any] | None) -> int:
    """The bytes a finished stage moved, from its result (a ``DiskRef`` or an ``ImportedInstance``)."""
    if not result:
        return 0
    if task_type in ("EXPORT_DISK", "REPLICATE_DISK"):
        return int(result.get("size_bytes") or 0)
    if task_type == "IMPORT_INSTANCE":
        return sum(int(d.get("size_bytes") or 0) for d in result.get("disks") or [])
    return 0


@dataclass
class Snapshot:
    """What the store holds, decoded: per task type."""

    buckets: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    seconds_sum: dict[str, float] = field(default_factory=dict)
    seconds_count: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    def cumulative(self, task_type: str) -> list[tuple[str, int]]:
        """Prometheus histogram buckets: ``(le, runs at most le)``, ending with ``+Inf``."""
        counts = self.buckets.get(task_type, {})
        total = 0
        out = []
        for bound in BUCKETS:
            label = _bucket_label(bound)
            total += counts.get(label, 0)
            out.append((label, total))
        return out


class StageMetrics:
    """Writes and reads the counters of one deployment (``prefix`` = its ``queue_prefix``)."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.key = f"{prefix}coriolis:metrics"

    def observe(self, task_type: str, started: float, result: dict[str, Any] | None, now: float | None = None) -> None:
        """Count one successful run of ``task_type`` that started at ``started`` (``time.time()``)."""
        seconds = max(0.0, (time.time() if now is None else now) - started)
        bound = next(b for b in BUCKETS if seconds <= b)
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(self.key, f"seconds|{task_type}|{_bucket_label(bound)}", 1)
        pipe.hincrbyfloat(self.key, f"seconds_sum|{task_type}", seconds)
        pipe.hincrby(self.key, f"seconds_count|{task_type}", 1)
        moved = bytes_of(task_type, result)
        if moved:
            pipe.hincrby(self.key, f"bytes|{task_type}", moved)
        self._run(pipe)

    def count_failure(self, task_type: str, exc: BaseException) -> None:
        """Count one failed run of ``task_type``; the reason is the exception's class name."""
        self._run(self.client.pipeline(transaction=False).hincrby(
            self.key, f"failures|{task_type}|{type(exc).__name__}", 1
        ))

    def _run(self, pipe: Any) -> None:
        try:
            pipe.execute()
        except redis.RedisError as exc:  # metrics must never fail a stage
            log.warning("could not record stage metrics: %s", exc)

    def read(self) -> Snapshot:
        """Every counter, with one round trip."""
        snap = Snapshot()
        for raw_key, raw_value in self.client.hgetall(self.key).items():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
            kind, _, rest = key.partition("|")
            if kind == "seconds":
                task_type, _, bound = rest.rpartition("|")
                snap.buckets[task_type][bound] = int(value)
            elif kind == "seconds_sum":
                snap.seconds_sum[rest] = float(value)
            elif kind == "seconds_count":
                snap.seconds_count[rest] = int(value)
            elif kind == "bytes":
                snap.bytes[rest] = int(value)
            elif kind == "failures":
                task_type, _, reason = rest.partition("|")
                snap.failures[(task_type, reason)] = int(value)
        return snap


def for_settings(settings: Any) -> StageMetrics:
    """The store of the deployment ``settings`` describe (its Redis, its queue prefix)."""
    from coriolis.progress import get_redis

    return StageMetrics(get_redis(settings.redis_url), settings.queue_prefix)
