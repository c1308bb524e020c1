"""The plan's state file (what resume reads) and its final report (JSON and CSV)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from coriolis_client.batch.plan import Plan

CSV_COLUMNS = ("vm", "wave", "status", "migration_id", "duration_s", "bytes", "boot_result", "error", "resumed")
FINAL = frozenset({"COMPLETED", "ERROR", "CANCELED", "TIMEOUT"})


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


class PlanState:
    """Per-VM records of a plan, saved after every change so that a rerun resumes where it stopped.

    A VM recorded ``COMPLETED`` is skipped on a rerun; one recorded with a migration still running
    is followed again instead of started twice; the others (failed, cancelled, timed out, never
    started) are started anew.
    """

    def __init__(self, path: Path, plan: Plan) -> None:
        self.path = path
        self.vms: dict[str, dict[str, Any]] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.vms = data.get("vms", {})
        for vm in plan.vms:
            record = self.vms.setdefault(vm.name, {"status": "PENDING"})
            record["wave"] = vm.wave
        self.plan_name = plan.name

    def update(self, name: str, **fields: Any) -> None:
        self.vms[name].update(fields)
        self.save()

    def save(self) -> None:
        doc = {"plan": self.plan_name, "updated_at": time.time(), "vms": self.vms}
        _atomic_write(self.path, json.dumps(doc, indent=2, sort_keys=True))


def state_path(plan: Plan, report_dir: Path | None) -> Path:
    """``<report_dir>/<plan>.state.json``, else beside the plan file."""
    return (report_dir or plan.path.parent) / f"{plan.path.stem}.state.json"


def outcome(run: dict[str, Any]) -> dict[str, Any]:
    """What the report keeps of a finished migration: bytes exported, boot result, error reason."""
    tasks = run.get("tasks") or []
    exported = sum(int((t.get("result") or {}).get("size_bytes") or 0) for t in tasks
                   if t.get("task_type") in ("EXPORT_DISK", "REPLICATE_DISKS") and t.get("status") == "COMPLETED")
    boot = next((t for t in tasks if t.get("task_type") == "BOOT_INSTANCE"), None)
    if boot is None:
        boot_result = "not run"
    elif boot.get("status") == "COMPLETED":
        result = boot.get("result") or {}
        boot_result = ("booted" if result.get("booted", True) else "not booted") + (
            f": {result['message']}" if result.get("message") else "")
    elif boot.get("status") == "ERROR":
        boot_result = f"failed: {boot.get('exception_details') or 'no details'}"
    else:
        boot_result = f"not run ({boot.get('status')})"
    return {"bytes": exported, "boot_result": boot_result, "error": run.get("last_error") or ""}


def write_report(plan: Plan, state: PlanState, report_dir: Path, started: float, resumed: set[str]) -> dict:
    """Write ``<plan>.report.json`` and ``<plan>.report.csv`` into ``report_dir``; answers the report."""
    rows = []
    for vm in plan.vms:
        record = state.vms[vm.name]
        rows.append({
            "vm": vm.name, "wave": vm.wave, "status": record.get("status"),
            "migration_id": record.get("migration_id") or "", "duration_s": record.get("duration_s"),
            "bytes": record.get("bytes", 0), "boot_result": record.get("boot_result") or "",
            "error": record.get("error") or "", "resumed": vm.name in resumed,
        })
    summary: dict[str, int] = {}
    for row in rows:
        summary[row["status"]] = summary.get(row["status"], 0) + 1
    report = {"plan": plan.name, "plan_file": str(plan.path), "started_at": started, "finished_at": time.time(),
              "summary": summary, "vms": rows}
    _atomic_write(report_dir / f"{plan.path.stem}.report.json", json.dumps(report, indent=2))
    csv_path = report_dir / f"{plan.path.stem}.report.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in CSV_COLUMNS})
    return report
