"""``coriolis flower`` serves the dashboard on the run's broker and lists stages by readable names."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import requests

from tests.conftest import STATE_DIR
from tests.coriolis_tasks.helpers import stub_migration, wait_finished


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flower_answers_and_names_tasks_by_migration_and_instance(live_client, workers, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**workers.env, "FLOWER_UNAUTHENTICATED_API": "true"}
    log = open(STATE_DIR / "flower.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "coriolis.cli", "flower", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthcheck", timeout=5).text == "OK":
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"flower exited; see {STATE_DIR / 'flower.log'}"
            assert time.monotonic() < deadline, "flower did not answer /healthcheck"
            time.sleep(0.3)
        project = f"flower-{uuid.uuid4().hex[:8]}"
        resp = live_client.post(
            f"/v1/{project}/migrations", json=stub_migration(["web-1"], {"disks": 1}, storage_dir=str(tmp_path))
        )
        mid = resp.get_json()["migration"]["id"]
        migration = wait_finished(live_client, project, mid, 120)
        assert migration["status"] == "COMPLETED", migration["last_error"]
        export = next(t for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK")
        wanted = f"export mig={mid[:8]} vm=web-1 disk={export['disk_id']}"
        stages = {"export", "convert", "morph", "import", "boot", "finalize"}
        deadline = time.monotonic() + 30
        while True:  # Flower learns of tasks from worker events, which may trail the API under load
            tasks = requests.get(f"{base}/api/tasks", timeout=10).json()
            names = {t["name"] for t in tasks.values() if f"mig={mid[:8]}" in (t["name"] or "")}
            named = export["id"] in tasks and tasks[export["id"]]["name"] == wanted
            if named and {n.split()[0] for n in names} >= stages:
                break
            assert time.monotonic() < deadline, (wanted, tasks.get(export["id"]), sorted(names))
            time.sleep(0.5)
        workers_seen = requests.get(f"{base}/api/workers", params={"refresh": "1"}, timeout=30).json()
        assert any(name.startswith("export-") for name in workers_seen)
    finally:
        proc.terminate()
        proc.wait(30)
