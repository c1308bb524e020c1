"""``GET /metrics``: Prometheus text exposition of migrations, tasks, stage counters and queue depths.

Every scrape reads the current state: two grouped counts from the database, one ``HGETALL`` of
the stage counters workers keep in Redis (``coriolis.stage_metrics``) and one pipeline of
``LLEN`` on the broker when it is Redis. All API processes therefore answer the same, and the
cost does not grow with the number of migrations beyond the two ``GROUP BY``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select

from coriolis import stage_metrics
from coriolis.config import Settings
from coriolis.database.models import Migration, Task
from coriolis.database.session import get_engine
from coriolis.progress import get_redis
from coriolis.statuses import MigrationStatus

log = logging.getLogger(__name__)
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in sibling lists
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class CoriolisCollector:
    """Builds every metric family at collection time from the database, Redis and the broker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("coriolis_metrics_source_up", "1 when the source answered", labels=["source"])
        for source, families in (
            ("database", self._database), ("redis", self._stage_counters), ("broker", self._queues),
        ):
            try:
                yield from families()
                up.add_metric([source], 1)
            except Exception as exc:  # a scrape reports what it can
                log.warning("metrics: %s unavailable: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
        yield up

    def _database(self) -> Iterator[Metric]:
        with get_engine(self.settings.database_url).connect() as conn:
            migrations = conn.execute(
                select(Migration.status, func.count()).where(Migration.deleted.is_(False)).group_by(Migration.status)
            ).all()
            tasks = conn.execute(
                select(Task.task_type, Task.status, func.count()).group_by(Task.task_type, Task.status)
            ).all()
        by_status = {s.value: 0 for s in MigrationStatus} | {status: n for status, n in migrations}
        gauge = GaugeMetricFamily("coriolis_migrations", "Migrations (not deleted) by status", labels=["status"])
        for status, count in sorted(by_status.items()):
            gauge.add_metric([status], count)
        yield gauge
        gauge = GaugeMetricFamily("coriolis_tasks", "Tasks by type and status", labels=["task_type", "status"])
        for task_type, status, count in sorted(tasks):
            gauge.add_metric([task_type, status], count)
        yield gauge

    def _stage_counters(self) -> Iterator[Metric]:
        snap = stage_metrics.for_settings(self.settings).read()
        hist = HistogramMetricFamily(
            "coriolis_stage_duration_seconds", "Duration of successful stage runs", labels=["task_type"]
        )
        for task_type in sorted(snap.seconds_count):
            buckets = [(floatToGoString(float(le)), n) for le, n in snap.cumulative(task_type)]
            hist.add_metric([task_type], buckets, sum_value=snap.seconds_sum.get(task_type, 0.0))
        yield hist
        moved = CounterMetricFamily(
            "coriolis_bytes_moved", "Bytes of disk images read from sources or written to destinations",
            labels=["task_type"],
        )
        for task_type, count in sorted(snap.bytes.items()):
            moved.add_metric([task_type], count)
        yield moved
        failures = CounterMetricFamily(
            "coriolis_task_failures", "Failed stage runs by task type and exception class",
            labels=["task_type", "reason"],
        )
        for (task_type, reason), count in sorted(snap.failures.items()):
            failures.add_metric([task_type, reason], count)
        yield failures

    def _queues(self) -> Iterator[Metric]:
        from coriolis_tasks.pipeline import QUEUES

        url = self.settings.effective_broker_url
        transport = urlsplit(url).scheme.split("+")[0] or "none"
        supported = GaugeMetricFamily(
            "coriolis_queue_depth_supported",
            "1 when queue depths are exported for this broker (Redis); RabbitMQ publishes its own",
            labels=["transport"],
        )
        is_redis = transport in ("redis", "rediss")
        supported.add_metric([transport], 1 if is_redis else 0)
        yield supported
        if not is_redis:
            return
        pipe = get_redis(url).pipeline(transaction=False)
        names = [self.settings.queue(q) for q in QUEUES]
        for name in names:
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(name + suffix)
        lengths = pipe.execute()
        depth = GaugeMetricFamily("coriolis_queue_depth", "Messages waiting in each Celery queue", labels=["queue"])
        step = len(_PRIORITY_SUFFIXES)
        for n, name in enumerate(names):
            depth.add_metric([name], sum(lengths[n * step:(n + 1) * step]))
        yield depth


def render(settings: Settings) -> bytes:
    """The exposition text of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoriolisCollector(settings))
    return generate_latest(registry)


def register(app: Flask, settings: Settings) -> None:
    """Serve ``/metrics`` on ``app``."""
    app.add_url_rule(
        "/metrics", "metrics", lambda: Response(render(settings), mimetype=None, content_type=CONTENT_TYPE_LATEST)
    )
