"""Coriolis as real processes for the migration benchmark: fresh PostgreSQL DB, gunicorn API, one pool per queue."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.bench_migration_memory import MemorySampler

PG_ADMIN_URL = os.environ.get(
    "CORIOLIS_BENCH_PG_URL", "postgresql+psycopg://coriolis:coriolis@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CORIOLIS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
TERMINAL = ("COMPLETED", "ERROR", "CANCELED")
# the e2e test waits 180 s; TCG boots on a loaded 2-core host have taken 160 s, and boot is subtracted anyway
BOOT_TIMEOUT = 600


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_ts(value: str | None) -> float | None:
    """Epoch seconds of an API timestamp (naive ISO 8601 in UTC), or None."""
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


# ---------------------------------------------------------------- memory sampling through /proc


@dataclass
class MigrationRun:
    """What one migration through the REST API measured."""

    migration: dict[str, Any]
    client_seconds: float
    posted_at: float
    seen_done_at: float
    memory: dict[str, Any] = field(default_factory=dict)


class Service:
    """The Coriolis API and one worker pool per queue, as child processes, on a private DB and queues."""

    def __init__(self, work: Path) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.work = work
        self.state_dir = work / "state"
        self.logs = work / "logs"
        self.db_name = f"coriolis_bench_mig_{self.run_id}"
        self.db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.queue_prefix = f"bm{self.run_id}-"
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.db_created = False
        self.task_ids: set[str] = set()
        self.migration_ids: set[str] = set()

    # -- lifecycle

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CORIOLIS_")}
        env.update(
            CORIOLIS_DATABASE_URL=self.db_url,
            CORIOLIS_REDIS_URL=REDIS_URL,
            CORIOLIS_QUEUE_PREFIX=self.queue_prefix,
            CORIOLIS_STATE_DIR=str(self.state_dir),
            CORIOLIS_API_HOST="127.0.0.1",
            CORIOLIS_ENABLE_STUB_PROVIDER="1", CORIOLIS_LOCAL_PATHS="*=/tmp:/var/tmp",  # stub, tmp paths
            CORIOLIS_MAX_ACTIVE_RUNS_PER_PROJECT="0",
            CORIOLIS_API_PORT=str(self.port),
        )
        return env

    def _create_db(self) -> None:
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        finally:
            admin.dispose()
        self.db_created = True

    def drop_db(self) -> None:
        if not self.db_created:
            return
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        finally:
            admin.dispose()
        self.db_created = False

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # the child keeps its own descriptor
        self.procs[name] = subprocess.Popen(
            argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=str(self.work),
        )
        log.close()

    def start(self, timeout: float = 120) -> float:
        """Create the database, start the API and the pools; return seconds until all were ready."""
        from coriolis_tasks.pipeline import QUEUES

        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._create_db()
        self._spawn("api", [sys.executable, "-m", "coriolis.cli", "api"])
        self._wait_healthy(started + timeout)
        for queue in QUEUES:
            self._spawn(queue, [sys.executable, "-m", "coriolis.cli", "worker", "-Q", queue,
                                "-n", f"bench-{queue}-{self.run_id}"])
        self._wait_workers(list(QUEUES), started + timeout)
        return time.monotonic() - started

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log_tail(name)
                raise RuntimeError(f"{name} exited with {proc.returncode}; log tail:\n{tail}")

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if self.call("GET", "/health", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the API was not healthy in time; see {self.logs / 'api.log'}")

    def _wait_workers(self, queues: list[str], deadline: float) -> None:
        pending = set(queues)
        ready = re.compile(r"@\S+ ready\.")
        while pending and time.monotonic() < deadline:
            self._check_alive()
            for queue in list(pending):
                if ready.search((self.logs / f"{queue}.log").read_text(errors="replace")):
                    pending.discard(queue)
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"worker pools not ready: {sorted(pending)}; logs in {self.logs}")

    def stop(self) -> None:
        """Stop every process started (SIGTERM to its session, then SIGKILL); safe to repeat."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group may outlive its leader (qemu-img, qemu): kill what is left
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.returncode is None:
                proc.wait(10)

    def clean_redis(self) -> int:
        """Delete this run's keys from Redis (queues and bindings, progress, abort flags); return how many."""
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(f"{self.queue_prefix}*"))
            keys += [f"coriolis:progress:{t}" for t in self.task_ids]
            keys += [f"coriolis:abort:{m}" for m in self.migration_ids]
            keys += [f"_kombu.binding.{self.queue_prefix}{q}" for q in self.procs]
            removed = 0
            for start in range(0, len(keys), 500):
                removed += int(client.delete(*keys[start:start + 500]) or 0)
            return removed
        finally:
            client.close()

    def pool_pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items() if name != "api"}

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self, limit: int = 12) -> dict[str, list[str]]:
        """Lines of each log that look like errors or warnings (first ``limit`` per log)."""
        pattern = re.compile(r"\b(ERROR|CRITICAL|WARNING|Traceback)\b|\bError\b")
        out: dict[str, list[str]] = {}
        for path in sorted(self.logs.glob("*.log")):
            hits = [ln.strip()[:300] for ln in path.read_text(errors="replace").splitlines() if pattern.search(ln)]
            if hits:
                out[path.stem] = [f"({len(hits)} lines)", *hits[:limit]]
        return out

    # -- REST

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 30) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.api}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"{}")
            except ValueError:
                return exc.code, {"raw": raw.decode(errors="replace")}

    def migrate(self, library: Path, instance: str, storage: Path, timeout: float = 900,
                poll: float = 0.25) -> MigrationRun:
        """POST an ova -> kvm migration, poll until it ends, sampling pool memory meanwhile."""
        project = f"bench-{self.run_id}"
        body = {
            "migration": {
                "origin": {"type": "ova", "connection_info": {"path": str(library)}},
                "destination": {
                    "type": "kvm",
                    "connection_info": {"storage_dir": str(storage)},
                    "target_environment": {"preserve_static_ips": True, "boot_timeout": BOOT_TIMEOUT},
                },
                "instances": [instance],
            }
        }
        with MemorySampler(self.pool_pids()) as sampler:
            posted_at = time.time()
            t0 = time.monotonic()
            code, created = self.call("POST", f"/v1/{project}/migrations", body)
            if code != 202:
                raise RuntimeError(f"POST migrations answered {code}: {created}")
            mid = created["migration"]["id"]
            self.migration_ids.add(mid)
            deadline = t0 + timeout
            while True:
                code, data = self.call("GET", f"/v1/{project}/migrations/{mid}")
                if code != 200:
                    raise RuntimeError(f"GET migration answered {code}: {data}")
                migration = data["migration"]
                if migration["status"] in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    self.call("POST", f"/v1/{project}/migrations/{mid}/actions", {"cancel": {"force": True}})
                    raise RuntimeError(f"migration {mid} still {migration['status']} after {timeout} s")
                self._check_alive()
                time.sleep(poll)
            elapsed = time.monotonic() - t0
            done_at = time.time()
        self.task_ids.update(t["id"] for t in migration.get("tasks", []))
        run = MigrationRun(migration, elapsed, posted_at, done_at)
        tasks = {t["task_type"]: t for t in migration.get("tasks", [])}
        move_start = parse_ts((tasks.get("EXPORT_DISK") or {}).get("started_at"))
        move_end = parse_ts((tasks.get("IMPORT_INSTANCE") or {}).get("finished_at"))
        run.memory = {
            "disk_move_window": sampler.peaks(move_start, move_end),
            "whole_migration": sampler.peaks(),
        }
        return run
