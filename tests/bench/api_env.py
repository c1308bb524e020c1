"""Support of the API benchmark: its database, Redis keys and the scan of the service logs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, create_engine, text

PG_ADMIN_URL = os.environ.get("CORIOLIS_BENCH_PG_URL", "postgresql+psycopg://coriolis:coriolis@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CORIOLIS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
# gunicorn access log line: phase (X-Bench-Phase header), method, path, query, status, microseconds
ACCESS_LOG_FORMAT = "bench|%({x-bench-phase}i)s|%(m)s|%(U)s|%(q)s|%(s)s|%(D)s"


# database ----------------------------------------------------------------------------------------


def create_database(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def status_counts(db: Engine, project: str) -> dict[str, int]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM migrations WHERE project_id = :p GROUP BY status"), {"p": project}
        )
        return {status: int(n) for status, n in rows}


def task_rows(db: Engine, project: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.id, t.task_type, t.depends_on, t.started_at, t.finished_at FROM tasks t "
                "JOIN migrations m ON m.id = t.migration_id WHERE m.project_id = :p"
            ),
            {"p": project},
        )
        return [dict(r._mapping) for r in rows]


def migration_rows(db: Engine, project: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status, created_at, finished_at, last_error FROM migrations WHERE project_id = :p"),
            {"p": project},
        )
        return [dict(r._mapping) for r in rows]


ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|^bench\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|5\d\d\|")


def server_times(api_log: Path) -> dict[str, dict[str, list[float]]]:
    """Milliseconds the API spent on each request, from its access log: ``{phase: {kind: [ms]}}``.

    Kinds: ``post`` (create), ``get_list`` (``/migrations?...``), ``get_one`` (``/migrations/<id>``).
    """
    times: dict[str, dict[str, list[float]]] = {}
    for line in api_log.read_text(errors="replace").splitlines():
        parts = line.split("|")
        if len(parts) != 7 or parts[0] != "bench" or not parts[6].isdigit():
            continue
        _tag, phase, method, path, _query, _status, micros = parts
        if not path.startswith("/v1/"):
            continue
        kind = "post" if method == "POST" else "get_list" if path.endswith("/migrations") else "get_one"
        times.setdefault(phase, {}).setdefault(kind, []).append(int(micros) / 1000)
    return times


def scan_logs(log_dir: Path) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    samples: list[str] = []
    for path in sorted(log_dir.glob("*.log")):
        errors = tracebacks = 0
        for line in path.read_text(errors="replace").splitlines():
            if ERROR_LINE.search(line):
                errors += 1
                if len(samples) < 8 and line[:160] not in samples:
                    samples.append(f"{path.stem}: {line[:160]}")
            tracebacks += line.startswith("Traceback")
        counts[path.stem] = {"errors": errors, "tracebacks": tracebacks}
    return {"dir": str(log_dir), "counts": counts, "samples": samples}


def cleanup_redis(prefix: str, task_ids: list[str], migration_ids: list[str]) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = [*client.scan_iter(f"{prefix}*"), *client.scan_iter(f"_kombu.binding*.{prefix}*")]
    keys += [f"celery-task-meta-{t}" for t in task_ids] + [f"coriolis:progress:{t}" for t in task_ids]
    keys += [f"coriolis:abort:{m}" for m in migration_ids]
    for n in range(0, len(keys), 500):
        client.delete(*keys[n : n + 500])
    client.close()
