"""Migrations with RabbitMQ as the Celery broker (Redis stays the result backend and progress store).

The Celery app reads its broker from the environment when it is imported, and this test process's
app points at Redis. So everything that talks to the broker runs as it would in production, in
its own process with the RabbitMQ environment: a worker fleet (``WorkerFleet``) and the API
(``coriolis api``, gunicorn on a free port). The test talks HTTP to that API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import RUN_ID, STATE_DIR, WorkerFleet
from tests.coriolis_tasks.fleets import HttpClient, free_port
from tests.coriolis_tasks.helpers import stub_migration, wait_finished, wait_for

AMQP_URL = os.environ.get("CORIOLIS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PREFIX = f"rmq{RUN_ID}-"
COMMAND = str(Path(sys.executable).parent / "coriolis")


def _require_rabbitmq() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        pytest.fail("RabbitMQ is not answering on 127.0.0.1:5672: run `bash deploy/dev-services.sh`")


def _delete_queues() -> None:
    from kombu import Connection

    from coriolis_tasks.pipeline import QUEUES

    with Connection(AMQP_URL) as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            try:
                channel.queue_delete(PREFIX + queue)
            except Exception:  # already gone; the channel is reopened for the next one
                channel = conn.default_channel


@pytest.fixture(scope="module")
def rabbit_env(pg_url) -> dict[str, str]:
    _require_rabbitmq()
    return {
        "CORIOLIS_BROKER_URL": AMQP_URL,
        "CORIOLIS_QUEUE_PREFIX": PREFIX,
        "CORIOLIS_DATABASE_URL": pg_url,
        "CORIOLIS_STAGING_DIR": str(STATE_DIR / "staging-rmq"),
        "CORIOLIS_LOG_FORMAT": "json",
    }


@pytest.fixture(scope="module")
def rabbit_workers(pg_url, rabbit_env) -> Iterator[WorkerFleet]:
    fleet = WorkerFleet(pg_url, STATE_DIR / "staging-rmq", extra_env=rabbit_env)
    try:
        from coriolis_tasks.pipeline import QUEUES

        deadline = time.monotonic() + 90
        while True:  # the probe a systemd/Kubernetes deployment would use, over RabbitMQ
            probe = subprocess.run(
                [COMMAND, "worker-health", "--queues", ",".join(QUEUES), "--timeout", "1"],
                env=fleet.env, capture_output=True, text=True, timeout=60,
            )
            if probe.returncode == 0:
                break
            assert time.monotonic() < deadline, f"workers not ready over RabbitMQ: {probe.stdout}{probe.stderr}"
            time.sleep(1)
        yield fleet
    finally:
        fleet.stop()
        _delete_queues()


@pytest.fixture(scope="module")
def rabbit_api(rabbit_env, rabbit_workers) -> Iterator[HttpClient]:
    port = free_port()
    env = {**os.environ, **rabbit_env, "CORIOLIS_API_PORT": str(port), "CORIOLIS_API_WORKERS": "1"}
    log = open(STATE_DIR / "api-rmq.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "coriolis.cli", "api"], env=env, stdout=log, stderr=log)
    client = HttpClient(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"the API exited; see {STATE_DIR / 'api-rmq.log'}"
            assert time.monotonic() < deadline, "the API did not answer /health"
            time.sleep(0.3)
        yield client
    finally:
        proc.terminate()
        proc.wait(30)


def _start(client: HttpClient, project: str, body: dict) -> str:
    resp = client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["migration"]["id"]


def _json_log_lines(fleet: WorkerFleet) -> list[dict]:
    lines = []
    for path in fleet.logs.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


def test_two_instances_complete_over_rabbitmq(rabbit_api, rabbit_workers, tmp_path):
    project = f"rmq-{uuid.uuid4().hex[:8]}"
    disks = {"instance_disks": {"web-1": [8, 8], "db-1": [8]}}
    body = stub_migration(["web-1", "db-1"], disks, storage_dir=str(tmp_path))
    mid = _start(rabbit_api, project, body)
    migration = wait_finished(rabbit_api, project, mid, 180)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert all(t["status"] == "COMPLETED" for t in migration["tasks"])
    hosts = {t["host"].split("@")[0] for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK"}
    assert hosts == {f"export-{RUN_ID}"}
    # the workers logged JSON lines carrying the migration, the task and its type
    records = [r for r in _json_log_lines(rabbit_workers) if r.get("migration_id") == mid]
    assert {"time", "level", "logger", "message"} <= set(records[0]), records[0]
    stage_ids = {t["id"] for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK"}
    assert any(r.get("task_id") in stage_ids and r.get("task_type") == "EXPORT_DISK" for r in records), records
    # the API's /metrics says queue depths are not read from RabbitMQ, and counts the migration
    text = requests.get(rabbit_api.base + "/metrics", timeout=30).text
    assert 'coriolis_queue_depth_supported{transport="amqp"} 0.0' in text
    assert "coriolis_queue_depth{" not in text


def test_cancel_over_rabbitmq(rabbit_api, rabbit_workers, tmp_path):
    project = f"rmq-{uuid.uuid4().hex[:8]}"
    body = stub_migration(["slow-1"], {"disks": 2, "disk_size_mb": 64, "rate_mbps": 4}, storage_dir=str(tmp_path))
    mid = _start(rabbit_api, project, body)
    wait_for(
        rabbit_api, project, mid,
        lambda m: any(t["status"] == "RUNNING" and (t["progress"] or {}).get("percent") for t in m["tasks"]
                      if t["task_type"] == "EXPORT_DISK"),
        90,
    )
    assert rabbit_api.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None}).status_code == 204
    migration = wait_finished(rabbit_api, project, mid, 60)
    assert migration["status"] == "CANCELED"
    assert all(t["status"] == "CANCELED" for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK")
    assert [t["status"] for t in migration["tasks"] if t["on_error"]] == ["COMPLETED"]
