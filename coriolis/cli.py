"""The ``coriolis`` command: the API, worker pools, beat, or everything on one host."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from coriolis import logging_setup
from coriolis.config import get_settings


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "coriolis_tasks.app", *args]


def worker_argv(queues: list[str], name: str, concurrency: int | None = None, loglevel: str = "INFO") -> list[str]:
    """The command line of one worker pool consuming ``queues``."""
    from coriolis_tasks.pools import pool_for

    settings = get_settings()
    pool = pool_for(queues)
    return _celery(
        "worker", "-Q", ",".join(settings.queue(q) for q in queues), "-n", f"{name}@%h",
        "-c", str(concurrency or pool.concurrency), "--prefetch-multiplier", str(pool.prefetch),
        "--loglevel", loglevel, "-E",
    )


def api_argv() -> list[str]:
    settings = get_settings()
    return [
        sys.executable, "-m", "gunicorn", "-b", f"{settings.api_host}:{settings.api_port}",
        "-w", str(settings.api_workers), "--threads", str(settings.api_threads), "-k", "gthread",
        "--access-logfile", "-", "--no-control-socket", "-c", "python:coriolis_api.gunicorn_conf",
        "coriolis_api.wsgi:app",
    ]


def beat_argv() -> list[str]:
    """Celery beat: transfer schedules and the lost-task reaper (its own state file in state_dir)."""
    settings = get_settings()
    os.makedirs(settings.state_dir, exist_ok=True)
    schedule_file = os.path.join(settings.state_dir, "celerybeat-schedule")
    return _celery("beat", "--loglevel", settings.log_level, "-s", schedule_file)


def _require_redis() -> None:
    if not get_settings().redis_url:
        sys.exit("CORIOLIS_REDIS_URL is not set; set it, or run `coriolis all-in-one`, which embeds Redis")


def _db_upgrade() -> None:
    from coriolis.database.session import upgrade

    upgrade(get_settings().database_url)


def _rotate_keys() -> int:
    """Re-encrypt every encrypted value with the first key; non-zero when some row no key opens."""
    from coriolis.database.encrypted import rotate_all
    from coriolis.database.models import Base
    from coriolis.database.session import get_engine

    _db_upgrade()
    rotated, failed = rotate_all(get_engine(get_settings().database_url), Base.metadata)
    print(f"coriolis: re-encrypted {rotated} rows with the first encryption key", flush=True)
    if failed:
        print(f"coriolis: {failed} values could not be decrypted with any configured key; left as they are",
              file=sys.stderr)
        return 1
    return 0


MAX_RESTARTS_PER_MINUTE = 5


def _supervise(commands: dict[str, list[str]], env: dict[str, str], poll: float = 0.5) -> int:
    """Run each command as a child and restart one that dies (as systemd's Restart=on-failure would).

    A child that dies more than ``MAX_RESTARTS_PER_MINUTE`` times in a minute stops them all
    with its exit code; SIGINT/SIGTERM stop them all with 0.
    """
    procs = {name: subprocess.Popen(argv, env=env) for name, argv in commands.items()}
    restarts: dict[str, list[float]] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    code = 0
    try:
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is None or stopping:
                    continue
                now = time.monotonic()
                recent = [t for t in restarts.get(name, []) if now - t < 60] + [now]
                if len(recent) > MAX_RESTARTS_PER_MINUTE:
                    print(f"coriolis: {name} keeps exiting ({proc.returncode}); stopping", file=sys.stderr)
                    code = proc.returncode or 1
                    stopping = True
                    break
                print(f"coriolis: {name} exited with {proc.returncode}; restarting it", file=sys.stderr)
                restarts[name] = recent
                procs[name] = subprocess.Popen(commands[name], env=env)
            time.sleep(poll)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


SERVICE_COMMANDS = frozenset(
    {"api", "worker", "beat", "flower", "worker-health", "db-upgrade", "all-in-one", "rotate-keys"}
)
CLIENT_EPILOG = (
    "client commands (talk to a running API; `coriolis <command> --help`): endpoint, provider, migration, "
    "transfer, execution, deployment, schedule, batch"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in SERVICE_COMMANDS and argv[0] not in ("-h", "--help"):
        from coriolis_client.cli import main as client_main  # the client commands: coriolis_client/cli.py

        return client_main(argv)
    parser = argparse.ArgumentParser(prog="coriolis", description="Coriolis migration service", epilog=CLIENT_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="serve the REST API (gunicorn)")
    worker = sub.add_parser("worker", help="run a worker pool")
    worker.add_argument("--queues", "-Q", required=True, help="comma list: export,convert,morph,import,boot,control")
    worker.add_argument("--name", "-n", default=None)
    worker.add_argument("--concurrency", "-c", type=int, default=None)
    sub.add_parser("beat", help="run Celery beat")
    flower = sub.add_parser("flower", help="run the Flower dashboard on the same broker")
    flower.add_argument("--address", default="127.0.0.1")
    flower.add_argument("--port", type=int, default=5555)
    health = sub.add_parser("worker-health", help="exit 0 when a worker consuming each queue answers (probes)")
    health.add_argument("--queues", "-Q", required=True, help="comma list of queues that must have a worker")
    health.add_argument("--name", "-n", default=None, help="ask only this worker (its --name; @host is added)")
    health.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for answers")
    sub.add_parser("db-upgrade", help="bring the database schema up to date")
    sub.add_parser("all-in-one", help="API, one worker per queue and (if needed) an embedded Redis")
    sub.add_parser("rotate-keys", help="re-encrypt stored connection info with the first of encryption_keys")
    args = parser.parse_args(argv)

    settings = get_settings()
    logging_setup.configure(settings.log_format, settings.log_level)
    if args.command == "db-upgrade":
        _db_upgrade()
        return 0
    if args.command == "all-in-one":
        return _all_in_one()
    if args.command == "rotate-keys":
        return _rotate_keys()
    _require_redis()
    if args.command == "api":
        _db_upgrade()
        os.execv(sys.executable, api_argv())
    if args.command == "worker":
        queues = [q.strip() for q in args.queues.split(",") if q.strip()]
        os.execv(sys.executable, worker_argv(queues, args.name or "-".join(queues), args.concurrency))
    if args.command == "beat":
        os.execv(sys.executable, beat_argv())
    if args.command == "flower":
        os.execv(sys.executable, _celery("flower", f"--address={args.address}", f"--port={args.port}"))
    if args.command == "worker-health":
        return _worker_health([q.strip() for q in args.queues.split(",") if q.strip()], args.name, args.timeout)
    return 0


def _worker_health(queues: list[str], name: str | None, timeout: float) -> int:
    """Print which worker answers for each queue; 0 when every queue has one."""
    from coriolis_tasks.health import queue_consumers

    destination = [name if "@" in name else f"{name}@{socket.gethostname()}"] if name else None
    try:
        consumers = queue_consumers(queues, timeout, destination)
    except Exception as exc:  # the broker is down: the probe fails, with a reason
        print(f"coriolis: cannot reach the broker: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for queue, workers in consumers.items():
        print(f"{queue}: {', '.join(workers) if workers else 'NO WORKER ANSWERED'}")
    return 0 if all(consumers.values()) else 1


def _all_in_one() -> int:
    from coriolis import embedded_redis
    from coriolis_tasks.pipeline import QUEUES

    settings = get_settings()
    env = dict(os.environ)
    redis_proc = None
    if not settings.redis_url:
        redis_proc, url = embedded_redis.start(settings.state_dir, settings.embedded_redis_port)
        env["CORIOLIS_REDIS_URL"] = url
        os.environ["CORIOLIS_REDIS_URL"] = url
        get_settings.cache_clear()
        print(f"coriolis: embedded Redis at {url}", flush=True)
    _db_upgrade()
    commands = {"api": api_argv(), "beat": beat_argv()}
    for queue in QUEUES:
        commands[f"worker-{queue}"] = worker_argv([queue], queue)
    try:
        return _supervise(commands, env)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
