"""``/health/ready`` and ``coriolis worker-health``: a worker must answer for every queue."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from coriolis_api import health
from coriolis_tasks.health import queue_consumers
from coriolis_tasks.pipeline import QUEUES
from tests.conftest import RUN_ID

COMMAND = str(Path(sys.executable).parent / "coriolis")


def test_worker_check_is_cached_and_reports_errors():
    calls = []

    def lookup():
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionError("broker down")
        return {"export": ["w@h"]}

    check = health.WorkerCheck(lookup, ttl=0.3)
    assert check.get() == {"export": ["w@h"]} and check.get() == {"export": ["w@h"]}
    assert len(calls) == 1
    time.sleep(0.35)
    assert check.get() == "error: ConnectionError"


def test_ready_when_every_queue_has_a_worker(live_client, workers):
    resp = live_client.get("/health/ready")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "workers": "ok"}
    assert set(body["queues"]) == set(QUEUES)
    assert body["queues"]["export"] == [n for n in body["queues"]["export"] if n.startswith(f"export-{RUN_ID}@")]


def test_not_ready_when_a_queue_has_no_worker(live_client, workers, monkeypatch):
    monkeypatch.setattr(health, "_consumers", lambda: queue_consumers(["export", "nobody"], timeout=0.5))
    from coriolis_api.app import create_app

    resp = create_app(workers.settings).test_client().get("/health/ready")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["workers"] == "error: no worker answers for nobody"
    assert body["queues"]["nobody"] == [] and body["queues"]["export"]


def test_worker_health_command(workers):
    def probe(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [COMMAND, "worker-health", "--timeout", "1", *args], env=workers.env, capture_output=True, text=True,
            timeout=60,
        )

    ok = probe("--queues", ",".join(QUEUES))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"export: export-{RUN_ID}@" in ok.stdout
    assert probe("--queues", "export", "--name", f"export-{RUN_ID}").returncode == 0
    # a named worker answers only for its own queue
    named = probe("--queues", "convert", "--name", f"export-{RUN_ID}")
    assert named.returncode == 1 and "convert: NO WORKER ANSWERED" in named.stdout
