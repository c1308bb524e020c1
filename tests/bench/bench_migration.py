"""OVA -> KVM migration benchmark: Coriolis over real processes vs bare qemu-img + morph and virt-v2v."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make ``tests.bench`` importable

from tests.bench.bench_migration_growth import allocated_bytes, ensure_big_guest  # noqa: E402
from tests.bench.bench_migration_refs import bare_steps, ensure_packages, virt_v2v  # noqa: E402
from tests.bench.bench_migration_report import compute_ratios, print_report  # noqa: E402
from tests.bench.bench_migration_service import MigrationRun, Service, parse_ts  # noqa: E402
from tests.fixtures.guest import ensure_guest  # noqa: E402

OUT_DIR = REPO / "var" / "bench"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: processes stopped, DB dropped


def copy_ova(ova: Path, library: Path, name: str) -> tuple[Path, float]:
    """Copy ``ova`` into ``library`` as ``name`` (never a link: the cache stays pristine); return it and seconds."""
    library.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    dst = library / name
    shutil.copyfile(ova, dst)
    return dst, time.monotonic() - started


def drop_cache(path: Path) -> None:
    """Write ``path`` out and drop it from the page cache: the migration reads it from storage, as a
    library OVA would be (the bytes-read figure counts what the storage provides)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- reading a finished migration


def stage_rows(run: MigrationRun) -> list[dict[str, Any]]:
    """Per task: start offset from the POST, duration, and queue wait after its dependencies finished."""
    tasks = run.migration.get("tasks", [])
    by_id = {t["id"]: t for t in tasks}
    created = parse_ts(run.migration.get("created_at")) or run.posted_at
    rows = []
    for t in sorted(tasks, key=lambda t: parse_ts(t.get("started_at")) or float("inf")):
        start, end = parse_ts(t.get("started_at")), parse_ts(t.get("finished_at"))
        deps = [parse_ts(by_id[d].get("finished_at")) for d in t.get("depends_on") or [] if d in by_id]
        ready = max((d for d in deps if d is not None), default=created)
        rows.append({
            "task_type": t["task_type"],
            "disk_id": t.get("disk_id"),
            "status": t["status"],
            "host": t.get("host"),
            "start_offset_s": None if start is None else round(start - run.posted_at, 2),
            "duration_s": None if start is None or end is None else round(end - start, 2),
            "queue_wait_s": None if start is None else round(start - ready, 3),
            "events": [
                {"offset_s": None if start is None else round((parse_ts(e["created_at"]) or start) - start, 2),
                 "level": e["level"], "message": e["message"][:400]}
                for e in t.get("events", [])
            ],
        })
    return rows


def convert_breakdown(row: dict[str, Any]) -> dict[str, float]:
    """Split CONVERT_DISK by its events: the one pass (read + hash + write), then the read-back check."""
    out: dict[str, float] = {}
    for event in row["events"]:
        message = event["message"]
        if "source content checksum" in message:
            out["one_pass_s"] = event["offset_s"]
            found = re.search(r"\((\d+) bytes of data read once, (\d+) written"
                              r"(?:; (\d+) bytes read from the source file, (\d+) of them from storage)?\)", message)
            if found:
                out["bytes_read"], out["bytes_written"] = int(found.group(1)), int(found.group(2))
                if found.group(3):
                    out["source_file_bytes_read"] = int(found.group(3))
                    out["source_storage_bytes_read"] = int(found.group(4))
        elif "content checksum" in message and "matches" in message:
            out["verify_s"] = round(event["offset_s"] - out.get("one_pass_s", 0.0), 2)
    return out


def export_bytes(row: dict[str, Any]) -> tuple[int, int]:
    """Bytes EXPORT_DISK read from the source file (an OVA member checked against its manifest), and of
    them from storage."""
    for event in row["events"]:
        found = re.search(r"matches its manifest \((\d+) bytes read in place, (\d+) of them from storage\)",
                          event["message"])
        if found:
            return int(found.group(1)), int(found.group(2))
    return 0, 0


def morph_timings(migration: dict[str, Any]) -> dict[str, float]:
    """OS_MORPHING's own figures: the appliance launch apart, inspection, each concern, total."""
    task = next((t for t in migration.get("tasks", []) if t["task_type"] == "OS_MORPHING"), {})
    return ((task.get("result") or {}).get("morph") or {}).get("timings") or {}


def summarize_run(run: MigrationRun, staged_ova: Path) -> dict[str, Any]:
    """The figures of one migration: totals, boot stage, per-stage rows, memory, output sizes."""
    m = run.migration
    tasks = {t["task_type"]: t for t in m.get("tasks", [])}
    boot_task = tasks.get("BOOT_INSTANCE") or {}
    b_start, b_end = parse_ts(boot_task.get("started_at")), parse_ts(boot_task.get("finished_at"))
    boot_stage = (b_end - b_start) if b_start is not None and b_end is not None else 0.0
    result = next(iter((m.get("transfer_result") or {}).values()), {}) or {}
    boot = result.get("boot") or {}
    created, finished = parse_ts(m.get("created_at")), parse_ts(m.get("finished_at"))
    rows = stage_rows(run)
    disks = result.get("disks") or []
    out_path = Path(disks[0]["path"]) if disks else None
    return {
        "status": m["status"],
        "last_error": m.get("last_error"),
        "migration_id": m["id"],
        "total_s": round(run.client_seconds, 2),
        "server_total_s": None if created is None or finished is None else round(finished - created, 2),
        "boot_stage_s": round(boot_stage, 2),
        "boot_result_s": boot.get("seconds"),
        "booted": boot.get("booted"),
        "boot_message": (boot.get("message") or "")[:200],
        "no_boot_s": round(run.client_seconds - boot_stage, 2),
        "stages": rows,
        "stage_sum_s": round(sum(r["duration_s"] or 0 for r in rows), 2),
        "queue_wait_sum_s": round(sum(r["queue_wait_s"] or 0 for r in rows), 2),
        "convert_breakdown": next((convert_breakdown(r) for r in rows if r["task_type"] == "CONVERT_DISK"), {}),
        "export_bytes_read": sum(export_bytes(r)[0] for r in rows if r["task_type"] == "EXPORT_DISK"),
        "export_storage_bytes_read": sum(export_bytes(r)[1] for r in rows if r["task_type"] == "EXPORT_DISK"),
        "morph_timings": morph_timings(m),
        "memory": run.memory,
        "ova_bytes": staged_ova.stat().st_size,
        "output_qcow2_allocated_bytes": allocated_bytes(out_path) if out_path and out_path.exists() else None,
    }


def run_bare(ova: Path, work: Path, name: str) -> dict[str, Any]:
    """Reference (a) on a fresh copy of ``ova`` (copy time not counted)."""
    staged, _ = copy_ova(ova, work, name)
    drop_cache(staged)  # both sides read the OVA from storage
    load_before = _load()
    try:
        return {**bare_steps(staged, work / "out"), "load_before": load_before}
    finally:
        staged.unlink(missing_ok=True)


def mean_bare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of reference (a) runs, step by step, with the runs themselves."""
    keys = ("extract_s", "convert_s", "morph_s", "appliance_launch_s", "total_s")
    return {**{k: round(sum(r[k] or 0 for r in runs) / len(runs), 2) for k in keys}, "runs": runs}


def run_coriolis(service: Service, ova: Path, work: Path, name: str) -> dict[str, Any]:
    library = work / "library"
    staged, copy_s = copy_ova(ova, library, name)
    drop_cache(staged)
    storage = work / "storage"
    load_before = _load()
    run = service.migrate(library, name, storage)
    summary = summarize_run(run, staged)
    summary.update(ova_copy_s=round(copy_s, 2), load_before=load_before, load_after=_load())
    shutil.rmtree(storage, ignore_errors=True)
    staged.unlink(missing_ok=True)
    return summary


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-v2v", action="store_true", help="do not run virt-v2v")
    parser.add_argument("--skip-growth", action="store_true", help="do not build or migrate the 10 GiB variant")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary work directory")
    parser.add_argument("--json", type=Path, default=OUT_DIR / "bench_migration.json")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if os.geteuid() != 0:
        print("bench_migration needs root (apt-get, the libguestfs appliance cache)", file=sys.stderr)
        return 2

    from coriolis_tasks.pipeline import QUEUES

    started = time.monotonic()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_start": _load(), "pools": list(QUEUES),
    }
    work = Path(tempfile.mkdtemp(prefix="bench-migration-", dir="/var/tmp"))
    service = Service(work / "coriolis")
    code = 0
    try:
        print("bench: checking Debian packages", flush=True)
        report["packages"] = ensure_packages()
        guest = ensure_guest()
        sizes: dict[str, Any] = {
            "base raw virtual": guest.raw.stat().st_size,
            "base raw allocated": allocated_bytes(guest.raw),
            "base OVA": guest.ova.stat().st_size,
        }
        report["sizes"] = sizes
        big = None
        if not args.skip_growth:
            print("bench: 10 GiB variant (cached after the first build)", flush=True)
            big = ensure_big_guest(guest)
            report["big_build_s"] = round(big.build_seconds, 1)
            sizes.update({
                "10g raw virtual": big.raw.stat().st_size,
                "10g raw allocated": allocated_bytes(big.raw),
                "10g OVA": big.ova.stat().st_size,
            })

        print(f"bench: starting Coriolis (db {service.db_name}, port {service.port})", flush=True)
        report["service_start_s"] = round(service.start(), 2)
        # Reference (a) runs right before and right after each Coriolis migration, so that both see
        # about the same machine load (other work shares these 2 cores); the service idles meanwhile.
        print("bench: 1+2. base OVA: bare steps, Coriolis migration, bare steps", flush=True)
        bare_before = run_bare(guest.ova, work / "bare", "guest.ova")
        report["coriolis_base"] = run_coriolis(service, guest.ova, work / "base", "guest.ova")
        report["reference_bare"] = mean_bare([bare_before, run_bare(guest.ova, work / "bare", "guest.ova")])
        sizes["base output qcow2 allocated"] = report["coriolis_base"]["output_qcow2_allocated_bytes"]
        if big is not None:
            print("bench: 4. 10 GiB OVA: bare steps, Coriolis migration, bare steps", flush=True)
            bare_before = run_bare(big.ova, work / "bare10", "guest-10g.ova")
            report["coriolis_10g"] = run_coriolis(service, big.ova, work / "big", "guest-10g.ova")
            report["reference_bare_10g"] = mean_bare(
                [bare_before, run_bare(big.ova, work / "bare10", "guest-10g.ova")]
            )
            sizes["10g output qcow2 allocated"] = report["coriolis_10g"]["output_qcow2_allocated_bytes"]
        service.stop()
        report["log_problems"] = {"coriolis": service.log_problems()}

        if not args.skip_v2v:
            print("bench: 3. reference (b): virt-v2v (TCG)", flush=True)
            staged, _ = copy_ova(guest.ova, work / "v2v", "guest.ova")
            load_before = _load()
            report["reference_v2v"] = {**virt_v2v(staged, work / "v2v"), "load_before": load_before}
            staged.unlink()
    except BaseException as exc:  # report what was measured so far, then clean up
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()
        traceback.print_exc()
        code = 1
    finally:
        service.stop()
        if "log_problems" not in report:
            report["log_problems"] = {"coriolis": service.log_problems()}
        try:
            report["redis_keys_removed"] = service.clean_redis()
        except Exception as exc:  # cleanup goes on
            report["redis_cleanup_error"] = str(exc)
        try:
            service.drop_db()
            report["db_dropped"] = service.db_name
        except Exception as exc:
            report["db_drop_error"] = str(exc)
        if service.logs.exists():
            logs = OUT_DIR / "bench_migration_logs"
            shutil.rmtree(logs, ignore_errors=True)
            shutil.copytree(service.logs, logs)
            report["logs"] = str(logs)
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        report["load_end"] = _load()
        report["bench_seconds"] = round(time.monotonic() - started, 1)
        report["ratios"] = compute_ratios(report)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print_report(report)
        print(f"JSON: {args.json}; worker/API logs: {report.get('logs')}; bench took {report['bench_seconds']} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
