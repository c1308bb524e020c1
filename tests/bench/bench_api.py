"""API and pipeline benchmark over real processes (gunicorn API, one Celery pool per queue): ``make bench``."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make ``tests.bench`` importable

from sqlalchemy import Engine, create_engine  # noqa: E402

from coriolis_tasks.pipeline import QUEUES  # noqa: E402  every pool the service has
from tests.bench import stats  # noqa: E402
from tests.bench.api_env import (  # noqa: E402
    ACCESS_LOG_FORMAT,
    REDIS_URL,
    cleanup_redis,
    create_database,
    drop_database,
    migration_rows,
    scan_logs,
    server_times,
    status_counts,
    task_rows,
)
from tests.bench.load import Client, Pollers, Sample, migration_body, submit_all  # noqa: E402
from tests.bench.procs import Fleet  # noqa: E402

FINISHED = ("COMPLETED", "ERROR", "CANCELED")
OUT_DIR = REPO / "var" / "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--migrations", type=int, default=200, help="migrations submitted at once")
    p.add_argument("--post-threads", type=int, default=16)
    p.add_argument("--get-threads", type=int, default=4)
    p.add_argument("--max-gets", type=int, default=3000, help="bound on the GET requests while migrations run")
    p.add_argument("--warmup-migrations", type=int, default=8, help="unmeasured migrations that warm every pool")
    p.add_argument("--quiet-gets", type=int, default=600, help="GETs after the migrations finished (baseline)")
    p.add_argument("--idle-migrations", type=int, default=10, help="migrations run one at a time (unloaded)")
    p.add_argument("--chain-length", type=int, default=200, help="no-op tasks in the bare-Celery reference chain")
    p.add_argument("--api-workers", type=int, default=2)
    p.add_argument("--api-threads", type=int, default=8)
    p.add_argument("--timeout", type=float, default=420, help="seconds allowed for the loaded migrations")
    return p.parse_args(argv)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# services ----------------------------------------------------------------------------------------


def service_env(db_url: str, prefix: str, state_dir: Path, port: int, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORIOLIS_")}
    env.update(
        CORIOLIS_DATABASE_URL=db_url, CORIOLIS_REDIS_URL=REDIS_URL, CORIOLIS_QUEUE_PREFIX=prefix,
        CORIOLIS_STATE_DIR=str(state_dir), CORIOLIS_API_HOST="127.0.0.1", CORIOLIS_API_PORT=str(port),
        CORIOLIS_API_WORKERS=str(args.api_workers), CORIOLIS_API_THREADS=str(args.api_threads),
        PYTHONUNBUFFERED="1",
        # server-side request times in the access log; no control socket shared with other gunicorns
        GUNICORN_CMD_ARGS=f"--no-control-socket --access-logformat '{ACCESS_LOG_FORMAT}'",
    )
    return env


def start_services(fleet: Fleet, env: dict[str, str], run_id: str, ref_queue: str) -> list[str]:
    """The API, one worker pool per queue and the reference worker; returns the worker names."""
    py = sys.executable
    fleet.start("api", [py, "-m", "coriolis.cli", "api"], env)
    names = []
    for queue in QUEUES:
        name = f"bench-{queue}-{run_id}"
        fleet.start(f"worker-{queue}", [py, "-m", "coriolis.cli", "worker", "-Q", queue, "-n", name], env)
        names.append(name)
    ref_name = f"bench-ref-{run_id}"
    ref_argv = [py, "-m", "celery", "-A", "tests.bench.noop_app", "worker", "-Q", ref_queue, "-n", f"{ref_name}@%h",
                "-c", "1", "-P", "prefork", "--loglevel", "INFO", "-E"]
    ref_env = {**env, "CORIOLIS_BENCH_BROKER_URL": REDIS_URL, "CORIOLIS_BENCH_REF_QUEUE": ref_queue}
    fleet.start("worker-ref", ref_argv, ref_env)
    return [*names, ref_name]


def _check_alive(fleet: Fleet) -> None:
    dead = fleet.dead()
    if dead:
        s = dead[0]
        raise RuntimeError(f"{s.name} exited with {s.proc.returncode}; its log ends:\n{s.log_tail()}")


def wait_health(fleet: Fleet, port: int, timeout: float = 90) -> None:
    client = Client(port, timeout=5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(fleet)
        status, body, _ms = client.request("GET", "/health")
        if status == 200:
            client.close()
            return
        time.sleep(0.3)
    raise RuntimeError(f"/health did not answer 200 within {timeout:.0f} s; last: {status} {body}")


def wait_workers(fleet: Fleet, app: Any, names: list[str], timeout: float = 90) -> None:
    wanted, seen = set(names), set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(fleet)
        replies = app.control.ping(timeout=1.0) or []
        seen = {name.split("@")[0] for reply in replies for name in reply}
        if wanted <= seen:
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers not ready within {timeout:.0f} s: {sorted(wanted - seen)}")


# phases ------------------------------------------------------------------------------------------


def reference_chain(app: Any, length: int) -> dict[str, Any]:
    """Per-hop latency of a bare Celery chain of no-op tasks through the same broker."""
    from celery import chain

    from tests.bench.noop_app import HOP_TASK

    hop = app.signature(HOP_TASK)
    ids: list[str] = []
    total = 0.0
    for n in (10, length):  # a warm-up, then the measured chain
        start = time.perf_counter()
        result = chain(*[hop.clone() for _ in range(n)]).apply_async()
        result.get(timeout=max(60, n))
        total = time.perf_counter() - start
        while result is not None:
            ids.append(result.id)
            result = result.parent
    return {"chain_length": length, "total_s": round(total, 3), "hop_ms": round(total * 1000 / length, 2),
            "task_ids": ids}


def wait_finished(db: Engine, fleet: Fleet, project: str, expected: int, timeout: float) -> dict[str, int]:
    """Poll the database until ``expected`` migrations of ``project`` have finished (or raise)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = status_counts(db, project)
        if sum(counts.get(s, 0) for s in FINISHED) >= expected:
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError(f"{project}: migrations not finished within {timeout:.0f} s: {counts}")
        _check_alive(fleet)
        time.sleep(0.05)


def run_warmup(port: int, db: Engine, fleet: Fleet, project: str, count: int, storage_dir: str) -> None:
    """A few migrations at once, not measured: every pool process connects and loads its code."""
    posted = submit_all(port, project, count, count, storage_dir, "warmup")
    if posted.errors:
        raise RuntimeError(f"warm-up POSTs failed: {posted.errors[:3]}")
    counts = wait_finished(db, fleet, project, count, 120)
    if counts.get("COMPLETED", 0) != count:
        raise RuntimeError(f"warm-up migrations did not all complete: {counts}")


def run_idle(port: int, db: Engine, fleet: Fleet, project: str, count: int, storage_dir: str) -> list[Sample]:
    """Migrations one at a time, each awaited: dispatch overhead without queueing."""
    client = Client(port, "idle")
    samples = []
    for n in range(count):
        status, body, ms = client.request("POST", f"/v1/{project}/migrations", migration_body(10_000 + n, storage_dir))
        samples.append(Sample("post", ms, status))
        if status != 202:
            raise RuntimeError(f"idle POST failed: {status} {body}")
        wait_finished(db, fleet, project, n + 1, 60)
    client.close()
    return samples


def run_load(port: int, db: Engine, fleet: Fleet, project: str, args: argparse.Namespace,
             storage_dir: str) -> dict[str, Any]:
    """Submit every migration at once, poll the API while they run, wait until all finish."""
    ids: list[str] = []
    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    pollers = Pollers(port, project, args.get_threads, args.max_gets, ids, "load")
    pollers.start()
    try:  # the pollers stop on an interrupt too, so that the API can shut down at once
        posted = submit_all(port, project, args.migrations, args.post_threads, storage_dir, "load", on_created=ids)
        print(f"  {len(posted.ids)} POSTs answered in {posted.ended - posted.started:.1f} s; waiting for completion",
              flush=True)
        deadline = time.monotonic() + args.timeout
        last_print = 0.0
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            _check_alive(fleet)
            counts = status_counts(db, project)
            if sum(counts.get(s, 0) for s in FINISHED) >= len(posted.ids):
                break
            if time.monotonic() - last_print > 10:
                print(f"  {dict(sorted(counts.items()))}", flush=True)
                last_print = time.monotonic()
            time.sleep(0.5)
    finally:
        pollers.stop()
    timed_out = time.monotonic() >= deadline
    quiet = Pollers(port, project, args.get_threads, args.quiet_gets, ids, "quiet")  # the same GETs, nothing running
    quiet.start()
    try:
        quiet.join(120)
    finally:
        quiet.stop()
    return {"posted": posted, "pollers": pollers, "quiet": quiet, "counts": counts, "timed_out": timed_out,
            "loadavg_before": loadavg_before}


# report ------------------------------------------------------------------------------------------


def latency(samples: list[Sample], kind: str | None = None, server: dict[str, list[float]] | None = None
            ) -> dict[str, Any]:
    """Client-side figures of the ``kind`` requests, with the server-side p50/p99 from the access log."""
    chosen = [s for s in samples if kind is None or s.kind == kind]
    ok = [s.ms for s in chosen if 200 <= s.status < 300]
    srv = [ms for k, values in (server or {}).items() if kind is None or k == kind for ms in values]
    if kind is None and server:
        srv = [ms for k, values in server.items() if k.startswith("get") for ms in values]
    return {**stats.summary(ok), "errors": len(chosen) - len(ok),
            "server_p50_ms": round(stats.percentile(srv, 50), 2), "server_p99_ms": round(stats.percentile(srv, 99), 2)}


def build_report(run_id: str, args: argparse.Namespace, ref: dict[str, Any], idle: list[Sample],
                 load: dict[str, Any], db: Engine, projects: dict[str, str], fleet: Fleet,
                 log_dir: Path) -> dict[str, Any]:
    posted, pollers, quiet = load["posted"], load["pollers"], load["quiet"]
    srv = server_times(log_dir / "api.log")
    on_load, on_quiet = srv.get("load", {}), srv.get("quiet", {})
    migrations = migration_rows(db, projects["load"])
    completed = [m for m in migrations if m["status"] == "COMPLETED"]
    done = [m for m in migrations if m["finished_at"] is not None]
    wall = ((max(m["finished_at"] for m in done) - min(m["created_at"] for m in migrations)).total_seconds()
            if done else float("nan"))
    e2e = [(m["finished_at"] - m["created_at"]).total_seconds() * 1000 for m in done]
    not_completed = [f"{m['id']} {m['status']}: {m['last_error'] or ''}"[:200]
                     for m in migrations if m["status"] != "COMPLETED"]
    not_completed += posted.errors
    gets = pollers.samples
    window = max(1e-6, (pollers.ended or time.monotonic()) - pollers.started)
    post_window = max(1e-6, posted.ended - posted.started)
    return {
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "migrations": args.migrations, "post_threads": args.post_threads, "get_threads": args.get_threads,
            "max_gets": args.max_gets, "quiet_gets": args.quiet_gets, "warmup_migrations": args.warmup_migrations,
            "idle_migrations": args.idle_migrations, "api_workers": args.api_workers,
            "api_threads": args.api_threads, "cpus": os.cpu_count(), "queues": list(QUEUES),
            "loadavg_before": load["loadavg_before"], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "load": {
            "submitted": args.migrations, "accepted": len(posted.ids), "completed": len(completed),
            "ok": len(completed) == args.migrations and not load["timed_out"],
            "timed_out": load["timed_out"], "statuses": load["counts"], "not_completed": not_completed[:20],
            "wall_s": round(wall, 2), "migrations_per_s": round(len(completed) / wall, 3) if done else 0.0,
            "end_to_end": stats.summary(e2e),
        },
        "api": {
            "post": latency(posted.samples, "post", on_load), "get_list": latency(gets, "get_list", on_load),
            "get_one": latency(gets, "get_one", on_load), "get_all": latency(gets, None, on_load),
            "idle_post": latency(idle, "post", srv.get("idle", {})),
            "get_throughput_rps": round(len(gets) / window, 1), "get_window_s": round(window, 1),
            "post_throughput_rps": round(len(posted.samples) / post_window, 1),
            "get_errors": pollers.errors[:10],
            "quiet": {
                "get_list": latency(quiet.samples, "get_list", on_quiet),
                "get_one": latency(quiet.samples, "get_one", on_quiet),
                "get_all": latency(quiet.samples, None, on_quiet),
                "get_throughput_rps": round(len(quiet.samples) / max(1e-6, quiet.ended - quiet.started), 1),
            },
            "client_cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
        },
        "reference": ref,
        "dispatch": {
            "idle": stats.dispatch_gaps(task_rows(db, projects["idle"])) if idle else {},
            "load": stats.dispatch_gaps(task_rows(db, projects["load"])),
        },
        "goals": {"api_p99_ms": stats.API_P99_GOAL_MS, "overhead_ms_per_task": stats.OVERHEAD_GOAL_MS},
        "memory": fleet.memory_report(),
        "memory_samples": fleet.samples,
        "logs": scan_logs(log_dir),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}-"
    ref_queue = f"{prefix}ref"
    os.environ["CORIOLIS_BENCH_BROKER_URL"] = REDIS_URL
    os.environ["CORIOLIS_BENCH_REF_QUEUE"] = ref_queue
    from tests.bench.noop_app import app

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    tmp = Path(tempfile.mkdtemp(prefix=f"coriolis-bench-{run_id}-"))
    log_dir = OUT_DIR / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    storage_dir = str(tmp / "destination")
    projects = {name: f"bench-{name}-{run_id}" for name in ("warmup", "idle", "load")}
    db_name = f"coriolis_bench_{run_id}"
    fleet = Fleet(log_dir, REPO)
    db: Engine | None = None
    ids: list[str] = []
    task_ids: list[str] = []
    code = 1
    try:
        db_url = create_database(db_name)
        db = create_engine(db_url, pool_size=2)
        port = free_port()
        print(f"bench {run_id}: database {db_name}, Redis {REDIS_URL} prefix {prefix}, API port {port}", flush=True)
        names = start_services(fleet, service_env(db_url, prefix, tmp / "state", port, args), run_id, ref_queue)
        fleet.start_sampling()
        wait_health(fleet, port)
        wait_workers(fleet, app, names)
        print("services up; reference chain ...", flush=True)
        ref = reference_chain(app, args.chain_length)
        task_ids += ref.pop("task_ids")
        print(f"  bare Celery hop: {ref['hop_ms']} ms; warm-up with {args.warmup_migrations} migrations, then "
              f"{args.idle_migrations} one at a time ...", flush=True)
        run_warmup(port, db, fleet, projects["warmup"], args.warmup_migrations, storage_dir)
        idle = run_idle(port, db, fleet, projects["idle"], args.idle_migrations, storage_dir)
        print(f"submitting {args.migrations} migrations at once ...", flush=True)
        load = run_load(port, db, fleet, projects["load"], args, storage_dir)
        fleet.stop_sampling()
        fleet.sample()
        report = build_report(run_id, args, ref, idle, load, db, projects, fleet, log_dir)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "bench_api.json").write_text(json.dumps(report, indent=2, default=str))
        print()
        print(stats.render(report))
        print(f"\nJSON report: {OUT_DIR / 'bench_api.json'}")
        code = 0 if report["load"]["ok"] else 1
    except KeyboardInterrupt:
        print("\ninterrupted; stopping services", file=sys.stderr)
        code = 130
    except Exception:
        print("\nbenchmark failed:", file=sys.stderr)
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping services, dropping the database ...", file=sys.stderr, flush=True)
        fleet.stop()
        for step in ("ids", "database", "redis"):
            try:  # each step on its own: one failing must not skip the others
                if step == "ids" and db is not None:
                    for project in projects.values():
                        ids += [m["id"] for m in migration_rows(db, project)]
                        task_ids += [t["id"] for t in task_rows(db, project)]
                    db.dispose()
                elif step == "database":
                    drop_database(db_name)
                elif step == "redis":
                    cleanup_redis(prefix, task_ids, ids)
            except Exception as exc:
                print(f"cleanup ({step}): {type(exc).__name__}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
