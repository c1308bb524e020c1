"""A bare Celery app with one no-op task: the reference hop latency on the benchmark's broker."""

from __future__ import annotations

import os
import time

from celery import Celery

BROKER_ENV = "CORIOLIS_BENCH_BROKER_URL"
QUEUE_ENV = "CORIOLIS_BENCH_REF_QUEUE"
HOP_TASK = "coriolis_bench.hop"


def make_app(broker_url: str, queue: str) -> Celery:
    """The reference app, configured like ``celeryconfig`` where it matters for a hop."""
    app = Celery("coriolis_bench_ref", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_default_queue=queue,
        task_routes={HOP_TASK: {"queue": queue}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name=HOP_TASK)
    def hop(*_args: object) -> float:
        """Do nothing; return when it ran."""
        return time.time()

    return app


app = make_app(os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/2"), os.environ.get(QUEUE_ENV, "bench-ref"))
