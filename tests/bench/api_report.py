"""The JSON report of one API benchmark run: latency per kind of request, completion, dispatch, memory."""

from __future__ import annotations

import argparse
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from coriolis_tasks.pipeline import QUEUES
from tests.bench import stats
from tests.bench.api_env import migration_rows, scan_logs, server_times, task_rows
from tests.bench.load import Sample
from tests.bench.procs import Fleet


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
            "get_interval_s": args.get_interval,
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
        "cpu_seconds_during_load": load["cpu_seconds"],
        "memory": fleet.memory_report(),
        "memory_samples": fleet.samples,
        "logs": scan_logs(log_dir),
    }
