"""Incremental transfer benchmark (10 GiB disk, 2 GiB data, 1 % changed): service vs bare sync; make bench-transfer."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
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

from sqlalchemy import create_engine  # noqa: E402

from conversion import checksum, convert  # noqa: E402
from tests.bench import transfer_disk as td  # noqa: E402
from tests.bench import transfer_report as tr  # noqa: E402
from tests.bench.api_env import (  # noqa: E402
    REDIS_URL,
    cleanup_redis,
    create_database,
    drop_database,
    migration_rows,
    scan_logs,
    task_rows,
)
from tests.bench.bench_api import free_port, wait_health, wait_workers  # noqa: E402
from tests.bench.load import Client  # noqa: E402
from tests.bench.procs import Fleet  # noqa: E402
from tests.bench.transfer_bare import run_bare, time_pieces, verify  # noqa: E402
from tests.bench.transfer_disk import Space  # noqa: E402

GIB = 1 << 30
FINISHED = ("COMPLETED", "ERROR", "CANCELED")
OUT_DIR = REPO / "var" / "bench"
VM = "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--disk-gib", type=float, default=10.0, help="virtual size of the source disk")
    p.add_argument("--data-gib", type=float, default=2.0, help="data written into it before the first sync")
    p.add_argument("--change-pct", type=float, default=1.0, help="percent of the data changed before the second")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--cache", choices=("cold", "warm"), default="cold",
                   help="cold: evict the source and replica files from the page cache before each measured sync")
    p.add_argument("--tmp-dir", type=Path, default=OUT_DIR, help="where the disks go (needs ~5x --data-gib free)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed for one execution")
    p.add_argument("--sources", default="vmx,kvm",
                   help="vmx (always run, the reference) and kvm: a libvirt domain whose qcow2 disk tracks "
                        "changes in a persistent dirty bitmap (the changes are written through qemu-io)")
    return p.parse_args(argv)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# the service -------------------------------------------------------------------------------------


def service_env(db_url: str, prefix: str, tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORIOLIS_") and k != "GUNICORN_CMD_ARGS"}
    env.update(
        CORIOLIS_DATABASE_URL=db_url, CORIOLIS_REDIS_URL=REDIS_URL, CORIOLIS_QUEUE_PREFIX=prefix,
        CORIOLIS_STATE_DIR=str(tmp / "state"), CORIOLIS_STAGING_DIR=str(tmp / "staging"),
        CORIOLIS_API_HOST="127.0.0.1", CORIOLIS_API_PORT=str(port), CORIOLIS_API_WORKERS="1",
        CORIOLIS_ENABLE_STUB_PROVIDER="1", CORIOLIS_LOCAL_PATHS="*=/tmp:/var/tmp",
        CORIOLIS_MAX_ACTIVE_RUNS_PER_PROJECT="0",  # stub, tmp paths, runs by the hundred
        CORIOLIS_API_THREADS="4", PYTHONUNBUFFERED="1",
    )
    return env


def start_services(fleet: Fleet, env: dict[str, str], run_id: str) -> list[str]:
    """The API, a pool of one for the export queue (REPLICATE_DISK, I/O measured alone) and one for the rest."""
    from coriolis_tasks.pipeline import QUEUES

    py = sys.executable
    fleet.start("api", [py, "-m", "coriolis.cli", "api"], env)
    names = []
    for label, queues, concurrency in (("export", ["export"], 1), ("others", [q for q in QUEUES if q != "export"], 2)):
        name = f"benchxfer-{label}-{run_id}"
        fleet.start(f"worker-{label}", [py, "-m", "coriolis.cli", "worker", "-Q", ",".join(queues), "-n", name,
                                        "-c", str(concurrency)], env)
        names.append(name)
    return names


def _ok(status: int, body: Any, expected: int, what: str) -> dict[str, Any]:
    if status != expected or not isinstance(body, dict):
        raise RuntimeError(f"{what}: HTTP {status} {str(body)[:400]}")
    return body


def create_transfer(client: Client, project: str, library: Path, storage: Path) -> str:
    """An ova endpoint on the library, a kvm endpoint on ``storage``, and a transfer of the VM between them."""
    ids = []
    for name, kind, info in (("library", "ova", {"path": str(library)}), ("kvm", "kvm", {"storage_dir": str(storage)})):
        body = {"endpoint": {"name": name, "type": kind, "connection_info": info}}
        ids.append(_ok(*client.request("POST", f"/v1/{project}/endpoints", body)[:2], 201, f"endpoint {name}")
                   ["endpoint"]["id"])
    body = {"transfer": {"origin_endpoint_id": ids[0], "destination_endpoint_id": ids[1], "instances": [VM]}}
    return str(_ok(*client.request("POST", f"/v1/{project}/transfers", body)[:2], 201, "transfer")["transfer"]["id"])


def run_execution(client: Client, fleet: Fleet, project: str, transfer: str, export_pgid: int,
                  timeout: float, space: Space) -> dict[str, Any]:
    """POST an execution, poll it until it finishes; its wall time, stage breakdown, counters and pool I/O."""
    io_before = td.group_io(export_pgid)
    start = time.perf_counter()
    body = _ok(*client.request("POST", f"/v1/{project}/transfers/{transfer}/executions", {"execution": {}})[:2],
               202, "execution")
    url = f"/v1/{project}/transfers/{transfer}/executions/{body['execution']['id']}"
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ms = client.request("GET", url)
        if status == 200 and body["execution"]["status"] in FINISHED:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"execution not finished within {timeout:.0f} s: {str(body)[:300]}")
        dead = fleet.dead()
        if dead:
            raise RuntimeError(f"{dead[0].name} exited; its log ends:\n{dead[0].log_tail()}")
        space.sample(every=1.0)
        time.sleep(0.1)
    wall = time.perf_counter() - start
    io = td.io_delta(io_before, td.group_io(export_pgid))
    execution = body["execution"]
    if execution["status"] != "COMPLETED":
        details = [t.get("exception_details") for t in execution["tasks"] if t.get("exception_details")]
        raise RuntimeError(f"execution {execution['status']}: {execution.get('last_error')} {details[:2]}")
    [task] = [t for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
    breakdown = tr.stage_breakdown(execution, task)
    task_s = (tr.parse_ts(task["finished_at"]) - tr.parse_ts(task["started_at"])).total_seconds()
    server_s = (tr.parse_ts(execution["finished_at"]) - tr.parse_ts(execution["created_at"])).total_seconds()
    return {"id": execution["id"], "wall_s": round(wall, 3), "server_s": round(server_s, 3), "task_s": round(task_s, 3),
            "breakdown": breakdown, "result": task["result"], "io": io,
            "steps": [u["message"] for u in task["progress_updates"]], "events": [e["message"] for e in task["events"]]}


# the kvm source: a qcow2 disk with a persistent dirty bitmap -----------------------------------------


def run_kvm(args: argparse.Namespace, tmp: Path, client: Client, fleet: Fleet, project: str, export_pgid: int,
            space: Space, size: int, data: int) -> dict[str, Any]:
    """Two executions from a kvm domain (qcow2, same data layout and change count): wall time, bytes, ratio."""
    rng = random.Random(args.seed + 1)
    domains, storage = tmp / "domains", tmp / "kvm-from-qcow2"
    domains.mkdir()
    flat = tmp / "kvm-seed.raw"
    with open(flat, "wb") as fh:
        fh.truncate(size)
    pieces = td.plan_pieces(size, data, rng)
    td.write_pieces(flat, pieces, rng)
    image = domains / f"{VM}.qcow2"
    convert(flat, "raw", image, "qcow2")
    flat.unlink()
    (domains / f"{VM}.xml").write_text(td.KVM_DOMAIN.format(name=VM, path=image))
    ids = []
    for name, info in (("libvirt", {"domains_dir": str(domains)}), ("kvm-bitmap-dst", {"storage_dir": str(storage)})):
        body = {"endpoint": {"name": name, "type": "kvm", "connection_info": info}}
        ids.append(_ok(*client.request("POST", f"/v1/{project}/endpoints", body)[:2], 201, f"endpoint {name}")
                   ["endpoint"]["id"])
    body = {"transfer": {"origin_endpoint_id": ids[0], "destination_endpoint_id": ids[1], "instances": [VM]}}
    transfer = str(_ok(*client.request("POST", f"/v1/{project}/transfers", body)[:2], 201, "transfer")
                   ["transfer"]["id"])
    out: dict[str, Any] = {"changes": 0, "changed_bytes": 0}
    for n in (1, 2):
        if n == 2:
            changes = td.pick_changes(pieces, round(data * args.change_pct / 100 / td.CHUNK), rng)
            out["changes"], out["changed_bytes"] = len(changes), td.qemu_io_changes(image, changes)
        if args.cache == "cold":
            td.drop_cache([image, storage])
        print(f"kvm (qcow2 + bitmap) execution {n} through the service ...", flush=True)
        result = run_execution(client, fleet, project, transfer, export_pgid, args.timeout, space)
        out[f"execution_{n}"] = result
        print(f"  {result['wall_s']:.1f} s ({result['result'].get('method')})", flush=True)
    source = checksum(image, "qcow2")
    if out["execution_2"]["result"]["checksum"] != source or checksum(
            Path(out["execution_2"]["result"]["path"]), "raw") != source:
        raise RuntimeError("kvm: the replica differs from the qcow2 source")
    e1, e2 = out["execution_1"], out["execution_2"]
    out["ratios"] = {
        "second_first_wall": round(tr.ratio(e2["wall_s"], e1["wall_s"]), 4),
        "second_first_task": round(tr.ratio(e2["task_s"], e1["task_s"]), 4),
        "read_vs_changed": round(tr.ratio(e2["result"]["bytes_read"], out["changed_bytes"]), 4),
        "written_vs_changed": round(tr.ratio(e2["result"]["bytes_written"], out["changed_bytes"]), 4),
    }
    out["verify"] = f"kvm: replica matches the qcow2 source ({source[:16]})"
    return out


# the run -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path, fleet: Fleet, db_url: str, prefix: str, run_id: str,
        project: str) -> dict[str, Any]:
    from tests.bench.noop_app import app

    size, data = int(args.disk_gib * GIB) // td.CHUNK * td.CHUNK, int(args.data_gib * GIB) // td.CHUNK * td.CHUNK
    cold, space = args.cache == "cold", Space(tmp)
    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    port = free_port()
    names = start_services(fleet, service_env(db_url, prefix, tmp, port), run_id)
    print(f"bench {run_id}: API port {port}; writing {args.data_gib} GiB into a {args.disk_gib} GiB disk ...",
          flush=True)
    rng = random.Random(args.seed)
    disk = td.make_vmx_folder(tmp / "library", VM, size)
    pieces = td.plan_pieces(size, data, rng)
    start = time.perf_counter()
    td.write_pieces(disk.flat, pieces, rng)
    prepare_s = time.perf_counter() - start
    space.sample()
    wait_health(fleet, port)
    wait_workers(fleet, app, names)
    client = Client(port, "transfer", timeout=60)
    transfer = create_transfer(client, project, tmp / "library", tmp / "kvm")
    export_pgid = fleet.services["worker-export"].pid
    bare_dir, scratch = tmp / "bare", tmp / "scratch"
    scratch.mkdir()
    service: dict[str, Any] = {}
    bare: dict[str, Any] = {}
    checks: list[str] = []
    changes: list[int] = []
    for n in (1, 2):
        if n == 2:
            changes = td.pick_changes(pieces, round(data * args.change_pct / 100 / td.CHUNK), rng)
            td.write_changes(disk.flat, changes)
        if cold:
            td.drop_cache([disk.flat, tmp / "kvm"])
        print(f"execution {n} through the service ...", flush=True)
        service[f"execution_{n}"] = run_execution(client, fleet, project, transfer, export_pgid, args.timeout, space)
        print(f"  {service[f'execution_{n}']['wall_s']:.1f} s; bare sync {n} ...", flush=True)
        bare[f"sync_{n}"] = run_bare(disk, bare_dir, cold)
        space.sample()
        print(f"  {bare[f'sync_{n}']['wall_s']:.1f} s; the stage's pieces alone, then the checksums ...", flush=True)
        bare[f"pieces_{n}"] = time_pieces(disk, scratch, cold, space)
        checks.append(verify(f"after sync {n}", disk, service[f"execution_{n}"], bare_dir))
    kvm = None
    if "kvm" in args.sources.split(","):
        shutil.rmtree(bare_dir, ignore_errors=True)  # room for the kvm disks
        kvm = run_kvm(args, tmp, client, fleet, project, export_pgid, space, size, data)
        checks.append(kvm.pop("verify"))
    client.close()
    report = {
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "disk_gib": args.disk_gib, "data_gib": args.data_gib, "change_pct": args.change_pct, "seed": args.seed,
            "disk_bytes": size, "data_bytes": data, "pieces": len(pieces), "changes": len(changes),
            "changed_bytes": len(changes) * td.CHUNK, "cache": args.cache, "cpus": os.cpu_count(),
            "loadavg_before": loadavg_before, "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "qemu_img": subprocess.run(["qemu-img", "--version"], capture_output=True, text=True,
                                       check=False).stdout.splitlines()[0],
        },
        "prepare": {"write_s": round(prepare_s, 3)},
        "service": service,
        "bare": bare,
        "kvm_bitmap": kvm,
        "verify": checks,
        "peak_temp_bytes": space.peak,
    }
    tr.summarise(report)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"benchxfer{run_id}-"
    os.environ["CORIOLIS_BENCH_BROKER_URL"] = REDIS_URL  # the ping of wait_workers goes through the same broker
    os.environ["CORIOLIS_BENCH_REF_QUEUE"] = f"{prefix}ref"
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.tmp_dir.mkdir(parents=True, exist_ok=True)
    need = int(args.data_gib * GIB * 5)
    free = shutil.disk_usage(args.tmp_dir).free
    if free < need + 2 * GIB:
        print(f"{args.tmp_dir}: {free / GIB:.1f} GiB free, the benchmark needs {need / GIB:.1f} GiB", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix=f"transfer-{run_id}-", dir=args.tmp_dir))
    log_dir = OUT_DIR / "bench_transfer_logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    db_name, project = f"coriolis_benchxfer_{run_id}", f"benchxfer-{run_id}"
    fleet = Fleet(log_dir, REPO)
    db_url: str | None = None
    code = 1
    try:
        db_url = create_database(db_name)
        report = run(args, tmp, fleet, db_url, prefix, run_id, project)
        fleet.stop()
        report["logs"] = scan_logs(log_dir)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "bench_transfer.json").write_text(json.dumps(report, indent=2, default=str))
        print()
        print(tr.render(report))
        print(f"\nJSON report: {OUT_DIR / 'bench_transfer.json'}")
        code = 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping services", file=sys.stderr)
        code = 130
    except Exception:
        print("\nbenchmark failed:", file=sys.stderr)
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"stopping services, dropping the database, removing {tmp} ...", file=sys.stderr, flush=True)
        fleet.stop()
        cleanup(db_url, db_name, project, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    return code


def cleanup(db_url: str | None, db_name: str, project: str, prefix: str) -> None:
    """Drop the database and the run's Redis keys; each step on its own, so one failing skips nothing."""
    migrations: list[str] = []
    tasks: list[str] = []
    if db_url is not None:
        try:
            db = create_engine(db_url, pool_size=1)
            migrations = [m["id"] for m in migration_rows(db, project)]
            tasks = [t["id"] for t in task_rows(db, project)]
            db.dispose()
        except Exception as exc:
            print(f"cleanup (ids): {type(exc).__name__}: {exc}", file=sys.stderr)
    for step, action in (("database", lambda: drop_database(db_name)),
                         ("redis", lambda: cleanup_redis(prefix, tasks, migrations))):
        try:
            action()
        except Exception as exc:
            print(f"cleanup ({step}): {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
