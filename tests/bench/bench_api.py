"""API and pipeline benchmark over real processes (gunicorn API, one Celery pool per queue): ``make bench``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make ``tests.bench`` importable

from sqlalchemy import Engine, create_engine  # noqa: E402

from tests.bench import stats  # noqa: E402
from tests.bench.api_env import (  # noqa: E402
    ACCESS_LOG_FORMAT,
    REDIS_URL,
    cleanup_redis,
    create_database,
    drop_database,
    migration_rows,
    status_counts,
    task_rows,
)
from tests.bench.api_report import build_report  # noqa: E402
from tests.bench.bench_nodes import SLOTS, compare, slots_per_queue, worker_layout  # noqa: E402
from tests.bench.bench_nodes import render as render_nodes  # noqa: E402
from tests.bench.load import Client, Pollers, Sample, migration_body, submit_all  # noqa: E402
from tests.bench.procs import Fleet  # noqa: E402

FINISHED = ("COMPLETED", "ERROR", "CANCELED")
OUT_DIR = REPO / "var" / "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--migrations", "--count", type=int, default=200, help="migrations submitted at once")
    p.add_argument("--nodes", type=int, default=1,
                   help="above 1: run with one node, then with the worker pools over N nodes, and compare")
    p.add_argument("--node-slots", choices=SLOTS, default="split",
                   help="pool size per node and queue: its share of the default (split) or all of it (full)")
    p.add_argument("--post-threads", type=int, default=16)
    p.add_argument("--get-threads", type=int, default=4)
    p.add_argument("--get-interval", type=float, default=0.0,
                   help="seconds between a poller's requests while migrations run (0: back to back: a faster API then "
                        "serves more GETs, and spends more CPU, within the burst)")
    p.add_argument("--max-gets", type=int, default=3000, help="bound on the GET requests while migrations run")
    p.add_argument("--warmup-migrations", type=int, default=8, help="unmeasured migrations that warm every pool")
    p.add_argument("--quiet-gets", type=int, default=600, help="GETs after the migrations finished (baseline)")
    p.add_argument("--idle-migrations", type=int, default=10, help="migrations run one at a time (unloaded)")
    p.add_argument("--chain-length", type=int, default=200, help="no-op tasks in the bare-Celery reference chain")
    p.add_argument("--sessions", choices=("shared", "own"), default="shared",
                   help="shared: the services share the benchmark's session, as `coriolis all-in-one` starts them; "
                        "own: one session each, as systemd starts units (each its own scheduling group under "
                        "sched_autogroup, competing as such with everything else on the host)")
    p.add_argument("--worker-niceness", type=int, default=None,
                   help="the pools' worker_niceness setting (default: the service's own default)")
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
        CORIOLIS_ENABLE_STUB_PROVIDER="1", CORIOLIS_LOCAL_PATHS="*=/tmp:/var/tmp",
        CORIOLIS_MAX_ACTIVE_RUNS_PER_PROJECT="0",  # stub, tmp paths, runs by the hundred
        PYTHONUNBUFFERED="1",
        # server-side request times in the access log; no control socket shared with other gunicorns
        GUNICORN_CMD_ARGS=f"--no-control-socket --access-logformat '{ACCESS_LOG_FORMAT}'",
    )
    if args.worker_niceness is not None:
        env["CORIOLIS_WORKER_NICENESS"] = str(args.worker_niceness)
    return env


def start_services(fleet: Fleet, env: dict[str, str], run_id: str, ref_queue: str,
                   layout: list[dict[str, Any]]) -> list[str]:
    """The API, the worker pools of ``layout`` and the reference worker; returns the worker names."""
    py = sys.executable
    fleet.start("api", [py, "-m", "coriolis.cli", "api"], env)
    names = []
    for w in layout:
        size = ["-c", str(w["concurrency"])] if w["concurrency"] else []
        fleet.start(w["key"], [py, "-m", "coriolis.cli", "worker", "-Q", w["queue"], "-n", w["name"], *size], env)
        names.append(w["name"])
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
    cpu_before = fleet.cpu_seconds()
    pollers = Pollers(port, project, args.get_threads, args.max_gets, ids, "load", args.get_interval)
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
    cpu_after = fleet.cpu_seconds()
    cpu = {name: round(cpu_after.get(name, 0) - used, 2) for name, used in cpu_before.items()}
    timed_out = time.monotonic() >= deadline
    quiet = Pollers(port, project, args.get_threads, args.quiet_gets, ids, "quiet")  # the same GETs, nothing running
    quiet.start()
    try:
        quiet.join(120)
    finally:
        quiet.stop()
    return {"posted": posted, "pollers": pollers, "quiet": quiet, "counts": counts, "timed_out": timed_out,
            "loadavg_before": loadavg_before, "cpu_seconds": cpu}


def run_variant(args: argparse.Namespace, nodes: int, log_dir: Path, ref_queue: str) -> dict[str, Any]:
    """One whole benchmark (its own database, queues and services) with the pools over ``nodes``."""
    from tests.bench.noop_app import app

    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}-"
    tmp = Path(tempfile.mkdtemp(prefix=f"coriolis-bench-{run_id}-"))
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    storage_dir = str(tmp / "destination")
    projects = {name: f"bench-{name}-{run_id}" for name in ("warmup", "idle", "load")}
    db_name = f"coriolis_bench_{run_id}"
    layout = worker_layout(nodes, run_id, args.node_slots)
    fleet = Fleet(log_dir, REPO, own_sessions=args.sessions == "own")
    db: Engine | None = None
    ids: list[str] = []
    task_ids: list[str] = []
    try:
        db_url = create_database(db_name)
        db = create_engine(db_url, pool_size=2)
        port = free_port()
        print(f"bench {run_id} ({nodes} node{'s' if nodes > 1 else ''}): database {db_name}, Redis {REDIS_URL} "
              f"prefix {prefix}, API port {port}", flush=True)
        names = start_services(fleet, service_env(db_url, prefix, tmp / "state", port, args), run_id, ref_queue,
                               layout)
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
        report["config"].update(nodes=nodes, node_slots=args.node_slots, slots_per_queue=slots_per_queue(layout),
                                sessions=args.sessions, worker_niceness=args.worker_niceness)
        return report
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
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ref_queue = f"bench{uuid.uuid4().hex[:8]}-ref"  # the reference app reads its queue once, at its import
    os.environ["CORIOLIS_BENCH_BROKER_URL"] = REDIS_URL
    os.environ["CORIOLIS_BENCH_REF_QUEUE"] = ref_queue
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        if args.nodes <= 1:
            report = run_variant(args, 1, OUT_DIR / "logs", ref_queue)
            (OUT_DIR / "bench_api.json").write_text(json.dumps(report, indent=2, default=str))
            print()
            print(stats.render(report))
            print(f"\nJSON report: {OUT_DIR / 'bench_api.json'}")
            return 0 if report["load"]["ok"] else 1
        reports = [run_variant(args, n, OUT_DIR / f"logs-{n}-node", ref_queue) for n in (1, args.nodes)]
        comparison = compare(reports[0], reports[1], args.nodes)
        path = OUT_DIR / "bench_api_nodes.json"
        path.write_text(json.dumps({"comparison": comparison, "one_node": reports[0],
                                    f"{args.nodes}_nodes": reports[1]}, indent=2, default=str))
        for report in reports:
            print()
            print(f"=== {report['config']['nodes']} node(s) ===")
            print(stats.render(report))
        print()
        print(render_nodes(comparison))
        print(f"\nJSON report: {path}")
        return 0 if all(r["load"]["ok"] for r in reports) else 1
    except KeyboardInterrupt:
        print("\ninterrupted; services stopped", file=sys.stderr)
        return 130
    except Exception:
        print("\nbenchmark failed:", file=sys.stderr)
        traceback.print_exc()
        return 1
    finally:
        try:
            cleanup_redis(ref_queue, [], [])
        except Exception as exc:
            print(f"cleanup (reference queue): {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
