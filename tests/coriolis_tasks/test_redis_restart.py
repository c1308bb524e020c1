"""Redis (broker, result backend and progress store) restarts mid-migration: the migration completes.

The fleet has a private Redis (the Debian ``redis-server``, append-only file on), stopped with
SIGTERM (which writes the AOF) while a disk is exported, and started again on the same port.

kombu's Redis transport crashes the worker main process when Redis goes away while a late-acked
task runs (AttributeError on ``conninfo.hostname`` restoring unacknowledged messages); the fleet
starts it again as systemd (``Restart=on-failure``) and ``coriolis all-in-one`` do. The export
ends meanwhile; its hand-over message is lost with the crashed process, and beat's reaper
dispatches the rest of the pipeline again once the next task has been ready ``stalled_seconds``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import STATE_DIR
from tests.coriolis_tasks.fleets import Fleet, free_port, private_database
from tests.coriolis_tasks.helpers import stub_migration, wait_finished, wait_for

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = STATE_DIR / f"redis-{self.port}"
        self.dir.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--appendonly", "yes",
                "--dir", str(self.dir), "--save", ""]
        self.proc = subprocess.Popen(argv, stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert self.proc.poll() is None, f"redis-server exited; see {self.dir / 'redis.log'}"
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis writes the append-only file and exits
            self.proc.wait(20)


@pytest.fixture(scope="module")
def redis_fleet() -> Iterator[tuple[Fleet, PrivateRedis]]:
    if not shutil.which("redis-server") and not shutil.os.path.exists(REDIS_SERVER):
        pytest.fail("redis-server is missing: apt-get install redis-server")
    server = PrivateRedis()
    server.start()
    with private_database("redis") as url:
        env = {
            "CORIOLIS_REDIS_URL": server.url, "CORIOLIS_CANCEL_WAIT_SECONDS": "10",
            "CORIOLIS_REAPER_INTERVAL": "1.5", "CORIOLIS_STALLED_SECONDS": "5",
        }
        nodes = {"all": ("export,convert,morph,import,boot,control,plan", 3)}
        fleet = Fleet("redis", url, nodes, env, supervise=True)
        try:
            fleet.start_beat()
            fleet.start_api()
            fleet.wait_ready()
            yield fleet, server
        finally:
            fleet.stop()
            server.stop()


def test_redis_restart_mid_export_completes(redis_fleet, tmp_path):
    fleet, server = redis_fleet
    api, project = fleet.api, f"redis-{uuid.uuid4().hex[:8]}"
    body = stub_migration(["vm-r"], {"disk_size_mb": 64, "rate_mbps": 3}, storage_dir=str(tmp_path))
    resp = api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    wait_for(api, project, mid, lambda m: any(
        t["task_type"] == "EXPORT_DISK" and (t["progress"] or {}).get("percent") for t in m["tasks"]), 60)
    server.stop()
    time.sleep(3)  # the export keeps reading meanwhile; its live progress is skipped, not fatal
    server.start()
    migration = wait_finished(api, project, mid, 60)  # the export ends, the crashed worker restarts, the rest runs
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert all(t["status"] == "COMPLETED" for t in migration["tasks"]), [
        (t["task_type"], t["status"]) for t in migration["tasks"]]
    export = next(t for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK")
    assert export["progress_updates"] and export["progress_updates"][-1]["message"] == "exporting disk0"
    assert migration["transfer_result"]["vm-r"]["boot"]["booted"] is True
