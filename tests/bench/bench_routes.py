"""Per-route API benchmark: SQL queries per request and in-process latency p50/p99, optionally profiled.

Runs the Flask app in this process (no gunicorn, no network) against a private PostgreSQL database
filled with finished migrations the size of real ones (tasks with their progress updates and events),
so what it shows is the route's own cost: loading, pooling, serialization. ``make bench`` measures the
same routes through gunicorn under load.

    .venv/bin/python tests/bench/bench_routes.py [--runs 40] [--requests 300] [--profile pyinstrument]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402

from tests.bench.api_env import REDIS_URL, create_database, drop_database  # noqa: E402

OUT = REPO / "var" / "bench" / "bench_routes.json"
STAGES = ("EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE", "FINALIZE_INSTANCE")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=60, help="finished migrations in the database")
    p.add_argument("--updates", type=int, default=20, help="progress updates per task")
    p.add_argument("--events", type=int, default=6, help="events per task")
    p.add_argument("--requests", type=int, default=300, help="requests per route")
    p.add_argument("--gc", choices=("default", "settled"), default="settled",
                   help="settled: as the API's workers run (coriolis.heap.settle after the app is built)")
    p.add_argument("--profile", choices=("none", "pyinstrument", "cprofile"), default="none")
    p.add_argument("--profile-route", default="GET migration", help="the route --profile runs")
    return p.parse_args(argv)


def fill(url: str, project: str, args: argparse.Namespace) -> list[str]:
    """``runs`` finished two-disk migrations with every stage's task, updates and events."""
    from coriolis.database.models import Migration, ProgressUpdate, Task, TaskEvent
    from coriolis.database.session import session_scope

    ids = []
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    with session_scope(url) as s:
        for n in range(args.runs):
            m = Migration(project_id=project, user_id="bench", status="COMPLETED", origin={"type": "stub"},
                          destination={"type": "stub", "target_environment": {}}, instances=[f"vm-{n}"],
                          info={f"vm-{n}": {"vm": {"name": f"vm-{n}", "disks": [{"id": "d0"}, {"id": "d1"}]}}},
                          created_at=start + timedelta(seconds=n))
            s.add(m)
            s.flush()
            index = 0
            for stage in STAGES:
                for disk in (("d0", "d1") if stage in ("EXPORT_DISK", "CONVERT_DISK") else (None,)):
                    t = Task(migration_id=m.id, index=index, instance=f"vm-{n}", task_type=stage, queue="q",
                             disk_id=disk, status="COMPLETED", host="bench@host", result={"path": "/x"},
                             started_at=start, finished_at=start)
                    index += 1
                    s.add(t)
                    s.flush()
                    s.add_all(ProgressUpdate(task_id=t.id, index=i, current_step=i, total_steps=args.updates,
                                             message=f"step {i} of {stage}") for i in range(args.updates))
                    s.add_all(TaskEvent(task_id=t.id, index=i, level="INFO", message=f"{stage} event {i}")
                              for i in range(args.events))
            ids.append(m.id)
    return ids


def measure(client: Any, engine: Any, path: str, count: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    queries = [0]

    def count_query(*_a: Any) -> None:
        queries[0] += 1

    event.listen(engine, "before_cursor_execute", count_query)
    try:
        status = client.get(path, headers=headers or {}).status_code  # warm
        queries[0] = 0
        client.get(path, headers=headers or {})
        per_request = queries[0]
        times, cpu = [], []
        size = 0
        for _ in range(count):
            t0, c0 = time.perf_counter(), time.process_time()
            resp = client.get(path, headers=headers or {})
            cpu.append((time.process_time() - c0) * 1000)
            times.append((time.perf_counter() - t0) * 1000)
            size = len(resp.data)
    finally:
        event.remove(engine, "before_cursor_execute", count_query)
    times.sort()
    cpu.sort()
    return {"status": status, "queries": per_request, "bytes": size, "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[int(len(times) * 0.99) - 1], 2), "max_ms": round(times[-1], 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2), "cpu_p99_ms": round(cpu[int(len(cpu) * 0.99) - 1], 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from coriolis.config import load_settings
    from coriolis.database.session import get_engine, upgrade
    from coriolis_api.app import create_app

    db_name = f"coriolis_routes_{uuid.uuid4().hex[:8]}"
    url = create_database(db_name)
    try:
        upgrade(url)
        project = "bench-routes"
        ids = fill(url, project, args)
        settings = load_settings().replace(database_url=url, redis_url=REDIS_URL, auth_strategy="noauth")
        app = create_app(settings)
        client = app.test_client()
        if args.gc == "settled":
            from coriolis import heap

            heap.settle()
        engine = get_engine(url)
        one = ids[len(ids) // 2]
        routes = {
            "GET migration": f"/v1/{project}/migrations/{one}",
            "GET migrations (50)": f"/v1/{project}/migrations?limit=50",
            "GET migrations/detail (10)": f"/v1/{project}/migrations/detail?limit=10",
            "GET endpoints": f"/v1/{project}/endpoints",
        }
        etag = client.get(routes["GET migration"]).headers.get("ETag")
        report: dict[str, Any] = {"runs": args.runs, "tasks_per_run": 8, "updates_per_task": args.updates,
                                  "events_per_task": args.events, "gc": args.gc, "gc_threshold": gc.get_threshold(),
                                  "routes": {}}
        for name, path in routes.items():
            report["routes"][name] = measure(client, engine, path, args.requests)
        if etag:
            report["routes"]["GET migration, If-None-Match"] = measure(
                client, engine, routes["GET migration"], args.requests, {"If-None-Match": etag})
        if args.profile != "none":
            report["profile"] = profile(client, routes[args.profile_route], args.requests, args.profile)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2))
        width = max(len(n) for n in report["routes"])
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include waiting for a CPU)")
        print(f"{'route':<{width}}  status queries   bytes   p50 ms   p99 ms   max ms  cpu p50  cpu p99")
        for name, r in report["routes"].items():
            print(f"{name:<{width}}  {r['status']:>6} {r['queries']:>7} {r['bytes']:>7} {r['p50_ms']:>8} "
                  f"{r['p99_ms']:>8} {r['max_ms']:>8} {r['cpu_p50_ms']:>8} {r['cpu_p99_ms']:>8}")
        if "profile" in report:
            print(report["profile"])
        print(f"JSON report: {OUT}")
        return 0
    finally:
        get_engine(url).dispose()
        drop_database(db_name)


def profile(client: Any, path: str, count: int, kind: str) -> str:
    """A profile of ``count`` requests to ``path``, as text."""
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(count):
            client.get(path)
        profiler.stop()
        return profiler.output_text(unicode=False, color=False, show_all=False)
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile(time.process_time)  # CPU time: the host is shared, waits are not the route's cost
    prof.enable()
    for _ in range(count):
        client.get(path)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(35)
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
