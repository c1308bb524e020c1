"""Structured logs: JSON lines with the migration and task in context, in this process, the API and a worker."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
import uuid

import pytest

from coriolis import logging_setup
from tests.conftest import RUN_ID


@pytest.fixture()
def stream():
    out = io.StringIO()
    handler = logging_setup.configure("json", "INFO", out)
    yield out
    logging.getLogger().removeHandler(handler)
    logging_setup.clear()


def _records(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_the_bound_context(stream):
    log = logging.getLogger("coriolis.test")
    log.info("before")
    with logging_setup.log_context(migration_id="m-1", task_id="t-1", task_type="EXPORT_DISK"):
        log.warning("copied %d bytes", 42)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.info("after")
    before, copied, failed, after = _records(stream)
    assert set(before) == {"time", "level", "logger", "message"}
    assert before["time"].endswith("+00:00") and before["logger"] == "coriolis.test"
    assert copied == {**copied, "level": "WARNING", "message": "copied 42 bytes", "migration_id": "m-1",
                      "task_id": "t-1", "task_type": "EXPORT_DISK"}
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exception"]
    assert "migration_id" not in after


def test_configure_again_replaces_its_handler_and_checks_the_format():
    root = logging.getLogger()
    handlers = [logging_setup.configure("text", "INFO", io.StringIO()) for _ in range(2)]
    try:
        assert handlers[0] not in root.handlers and handlers[1] in root.handlers
        with pytest.raises(ValueError, match="log_format"):
            logging_setup.configure("xml")
    finally:
        root.removeHandler(handlers[1])


def test_text_lines_show_the_context():
    out = io.StringIO()
    handler = logging_setup.configure("text", "INFO", out)
    try:
        with logging_setup.log_context(migration_id="m-2"):
            logging.getLogger("coriolis.test").info("hello")
    finally:
        logging.getLogger().removeHandler(handler)
    assert out.getvalue().rstrip().endswith("INFO coriolis.test [migration_id=m-2] hello")


def test_api_requests_bind_the_migration_id(settings, stream):
    from coriolis_api.app import create_app

    app = create_app(settings)

    @app.route("/probe/<migration_id>")
    def probe(migration_id):
        logging.getLogger("coriolis_api.probe").info("probed")
        return "ok"

    client = app.test_client()
    assert client.get("/probe/m-42").status_code == 200
    assert client.get("/health").status_code == 200
    (record,) = [r for r in _records(stream) if r["message"] == "probed"]
    assert record["migration_id"] == "m-42"
    assert logging_setup.current() == {}  # nothing leaks to the next request


def test_a_worker_logs_json_with_the_task_context(sqlite_url, tmp_path):
    """A real worker with ``log_format=json`` on a private queue runs a control task."""
    import os

    from coriolis_tasks.app import celery_app

    prefix = f"t{RUN_ID}-log{uuid.uuid4().hex[:6]}-"
    env = {**os.environ, "CORIOLIS_LOG_FORMAT": "json", "CORIOLIS_QUEUE_PREFIX": prefix,
           "CORIOLIS_DATABASE_URL": sqlite_url}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "coriolis.cli", "worker", "-Q", "control", "-n", f"log-{prefix}", "-c", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    migration_id = str(uuid.uuid4())
    try:
        celery_app.send_task("coriolis.control.cleanup", args=(migration_id, "ERROR"), queue=f"{prefix}control")
        deadline = time.monotonic() + 60
        while migration_id not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records, log_path.read_text()
    mine = [r for r in records if r.get("migration_id") == migration_id]
    assert mine, records
    assert {"time", "level", "logger", "message"} <= set(mine[0])
    assert any("succeeded" in r["message"] for r in mine)
