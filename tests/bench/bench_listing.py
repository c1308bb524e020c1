"""In-process timing of the API's reads (no HTTP server, no workers): lists, ``/detail`` and GET one.

N stored migrations with inline (encrypted) connection info, stage tasks, progress updates,
events and live Redis progress for the running tasks, read through the Flask test client;
the median and p99 of each request and the SQL statements it issued. Figures go to
``var/bench/bench_listing.json``; ``--compare OLD.json`` prints the ratio old/new per figure.

    .venv/bin/python tests/bench/bench_listing.py [--migrations 50] [--rounds 200] [--compare F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make ``tests.bench`` importable

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import event  # noqa: E402

from coriolis.config import load_settings  # noqa: E402
from coriolis.database import encrypted  # noqa: E402
from coriolis.database.models import Migration, ProgressUpdate, Task, TaskEvent  # noqa: E402
from coriolis.database.session import get_engine, session_scope, upgrade  # noqa: E402
from coriolis.progress import ProgressStore, get_redis, progress_state  # noqa: E402
from tests.bench import stats  # noqa: E402
from tests.bench.api_env import REDIS_URL, create_database, drop_database  # noqa: E402

OUT = REPO / "var" / "bench" / "bench_listing.json"
STAGES = ("GET_INSTANCE_INFO", "EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE",
          "FINALIZE_INSTANCE_DEPLOYMENT")


def seed(url: str, store: ProgressStore, project: str, count: int, live: list[str]) -> list[str]:
    """``count`` migrations, each with every stage task; the export of every other one RUNNING.

    The ids of the tasks given live progress are added to ``live``.
    """
    ids = []
    with session_scope(url) as s:
        for n in range(count):
            m = Migration(project_id=project, user_id="u", status="RUNNING", origin={"type": "stub"},
                          destination={"type": "stub", "target_environment": {"disk_format": "qcow2"}},
                          instances=[f"vm-{n}"], dispatched=True)
            m.origin_connection_info = {"host": "10.0.0.1", "username": "admin", "password": f"pw-{n}"}
            m.destination_connection_info = {"storage_dir": "/tmp/x", "token": f"tok-{n}"}
            s.add(m)
            s.flush()
            for i, stage in enumerate(STAGES):
                running = stage == "EXPORT_DISK" and n % 2 == 0
                status = "COMPLETED" if i == 0 else "RUNNING" if running else "SCHEDULED"
                t = Task(migration_id=m.id, index=i, instance=f"vm-{n}", task_type=stage, queue="export",
                         status=status, depends_on=[], result={})
                s.add(t)
                s.flush()
                s.add(ProgressUpdate(task_id=t.id, index=0, current_step=0, total_steps=100, message="start"))
                s.add(TaskEvent(task_id=t.id, index=0, level="INFO", message="started"))
                if running:
                    store.write(t.id, progress_state(40, 100, "exporting", time.time() - 4))
                    live.append(t.id)
            ids.append(m.id)
    return ids


def measure(client, path: str, rounds: int, engine) -> dict[str, Any]:
    statements: list[int] = []

    def count(*_args) -> None:
        statements[-1] += 1

    event.listen(engine, "before_cursor_execute", count)
    times, cpu = [], []
    try:
        for _ in range(rounds):
            statements.append(0)
            start, start_cpu = time.perf_counter(), time.process_time()
            resp = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"GET {path}: {resp.status_code} {resp.get_data(as_text=True)[:300]}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return {"median_ms": round(statistics.median(times), 3), "p99_ms": round(stats.percentile(times, 99), 3),
            "cpu_median_ms": round(statistics.median(cpu), 3), "sql_statements": max(statements)}


def compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = [f"{'request':<14}{'before ms':>11}{'after ms':>10}{'ratio':>8}{'CPU ratio':>11}"
             f"{'SQL before':>12}{'after':>7}"]
    for name, after in new["requests"].items():
        before = old["requests"].get(name)
        if not before:
            continue
        ratio = before["median_ms"] / after["median_ms"]
        cpu = before.get("cpu_median_ms", float("nan")) / after.get("cpu_median_ms", float("nan"))
        lines.append(f"{name:<14}{before['median_ms']:>11.2f}{after['median_ms']:>10.2f}{ratio:>7.1f}x{cpu:>10.1f}x"
                     f"{before['sql_statements']:>12}{after['sql_statements']:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--migrations", type=int, default=50)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--database-url", default="", help="an upgraded database to use (default: a private PostgreSQL one)")
    p.add_argument("--compare", type=Path, help="an earlier report: print before/after ratios")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    encrypted.use_keys([Fernet.generate_key().decode()])  # no development key file written anywhere
    db_name = "" if args.database_url else f"coriolis_listing_{uuid.uuid4().hex[:8]}"
    url = args.database_url or create_database(db_name)
    redis = get_redis(REDIS_URL)
    store = ProgressStore(redis)
    project = f"listing-{uuid.uuid4().hex[:8]}"
    live: list[str] = []
    try:
        upgrade(url)
        ids = seed(url, store, project, args.migrations, live)
        from coriolis_api.app import create_app

        app = create_app(load_settings().replace(database_url=url, redis_url=REDIS_URL))
        client = app.test_client()
        paths = {
            "list": f"/v1/{project}/migrations",
            "detail": f"/v1/{project}/migrations/detail",
            "get_one": f"/v1/{project}/migrations/{ids[0]}",
        }
        engine = get_engine(url)
        for path in paths.values():  # warm: imports, connection pool, statement caches
            measure(client, path, 5, engine)
        requests = {name: measure(client, path, args.rounds, engine) for name, path in paths.items()}
        report = {"migrations": args.migrations, "rounds": args.rounds, "database": url.split(":", 1)[0],
                  "requests": requests}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        if args.compare:
            print(compare(json.loads(args.compare.read_text()), report))
    finally:
        get_engine(url).dispose()
        if db_name:
            drop_database(db_name)
        if live:
            redis.delete(*(f"{store.prefix}:progress:{t}" for t in live))
    return 0


if __name__ == "__main__":
    sys.exit(main())
