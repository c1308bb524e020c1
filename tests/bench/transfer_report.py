"""Figures of the transfer benchmark: the service's stage breakdown, ratios, goals and the text report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

MIB = 1 << 20
SECOND_SYNC_GOAL = 0.05  # the second sync takes at most 5 % of the first
WRITE_GOAL = 1.2  # and writes at most 1.2 x the changed bytes
SEGMENTS = ("export", "convert_to_raw", "sync_and_checksum", "record_and_cleanup")


def parse_ts(value: str | None) -> datetime | None:
    """A naive UTC datetime from an API timestamp (naive or not)."""
    if not value:
        return None
    ts = datetime.fromisoformat(value)
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def stage_breakdown(execution: dict[str, Any], task: dict[str, Any]) -> dict[str, float | None]:
    """Seconds of each part of a REPLICATE_DISK task, from its step messages and its closing event.

    The stage posts a step "reading <disk> (<fmt>)" when it converts to raw in staging, then
    "syncing <disk> into its replica"; its event "disk <id>: ... generation N" follows the sync,
    the content checksum of the staging raw and the database record. Dispatch: the execution's
    creation to the task's start, and the task's end to the execution's end (the finalize task).
    """
    marks: dict[str, datetime | None] = {"export": parse_ts(task["started_at"])}
    for update in task.get("progress_updates") or []:
        if update["message"].startswith("reading ") and "convert_to_raw" not in marks:
            marks["convert_to_raw"] = parse_ts(update["created_at"])
        elif update["message"].startswith("syncing ") and "sync_and_checksum" not in marks:
            marks["sync_and_checksum"] = parse_ts(update["created_at"])
    for event in task.get("events") or []:
        if event["message"].startswith("disk ") and "generation" in event["message"]:
            marks["record_and_cleanup"] = parse_ts(event["created_at"])
    points = [(name, marks[name]) for name in SEGMENTS if marks.get(name) is not None]
    points.append(("end", parse_ts(task["finished_at"])))
    out: dict[str, float | None] = dict.fromkeys(SEGMENTS)
    for (name, start), (_next, end) in zip(points, points[1:], strict=False):
        out[name] = _seconds(start, end)
    out["queue_to_start"] = _seconds(parse_ts(execution["created_at"]), parse_ts(task["started_at"]))
    out["finalize"] = _seconds(parse_ts(task["finished_at"]), parse_ts(execution.get("finished_at")))
    return out


def ratio(part: float | None, whole: float | None) -> float:
    return part / whole if part is not None and whole else math.nan


def verdict(value: float, goal: float) -> str:
    return "n/a" if math.isnan(value) else ("PASS" if value <= goal else "FAIL")


def summarise(report: dict[str, Any]) -> None:
    """Add the ratios, the goals and the dominant costs to ``report`` (in place)."""
    changed = report["config"]["changed_bytes"]
    svc, bare = report["service"], report["bare"]
    e1, e2, b1, b2 = svc["execution_1"], svc["execution_2"], bare["sync_1"], bare["sync_2"]
    ratios = {
        "service_second_first_wall": ratio(e2["wall_s"], e1["wall_s"]),
        "service_second_first_task": ratio(e2["task_s"], e1["task_s"]),
        "bare_second_first": ratio(b2["wall_s"], b1["wall_s"]),
        "service_written_vs_changed": ratio(e2["result"]["bytes_written"], changed),
        "service_journal_plus_replica_vs_changed": ratio(
            e2["result"]["bytes_written"] + e2["result"]["journal_bytes"], changed),
        "service_storage_writes_vs_changed": ratio(e2["io"]["write_bytes"], changed),
        "bare_written_vs_changed": ratio(b2["stats"]["bytes_written"], changed),
        "bare_storage_writes_vs_changed": ratio(b2["io"]["write_bytes"], changed),
        "overhead_first": ratio(e1["wall_s"], b1["wall_s"]),
        "overhead_second": ratio(e2["wall_s"], b2["wall_s"]),
    }
    report["ratios"] = {k: round(v, 4) for k, v in ratios.items()}
    report["goals"] = {
        "second_sync_max_fraction": SECOND_SYNC_GOAL, "written_max_vs_changed": WRITE_GOAL,
        "service_second_sync": verdict(ratios["service_second_first_wall"], SECOND_SYNC_GOAL),
        "bare_second_sync": verdict(ratios["bare_second_first"], SECOND_SYNC_GOAL),
        "service_written": verdict(ratios["service_written_vs_changed"], WRITE_GOAL),
        "bare_written": verdict(ratios["bare_written_vs_changed"], WRITE_GOAL),
    }
    pieces = bare["pieces_2"]
    both = e2["breakdown"]["sync_and_checksum"]
    report["second_execution_split"] = {
        "dispatch_and_finalize": _add(e2["breakdown"]["queue_to_start"], e2["breakdown"]["finalize"]),
        "export": e2["breakdown"]["export"],
        "convert_to_raw": e2["breakdown"]["convert_to_raw"],
        "sync (derived)": None if both is None else round(max(0.0, both - pieces["checksum_s"]), 3),
        "checksum (timed alone)": pieces["checksum_s"],
        "record_and_unlink": e2["breakdown"]["record_and_cleanup"],
    }
    parts = {k: v for k, v in report["second_execution_split"].items() if v is not None}
    top = max(parts, key=lambda k: parts[k]) if parts else None
    report["dominant_second_execution"] = {"part": top, "seconds": parts.get(top) if top else None,
                                           "of_wall_s": e2["wall_s"]}


def _add(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 3)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [list(header), *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB


def render(report: dict[str, Any]) -> str:
    """The plain-text report (the JSON report, laid out)."""
    cfg, svc, bare, r, goals = report["config"], report["service"], report["bare"], report["ratios"], report["goals"]
    out = [
        f"Coriolis incremental transfer benchmark  run {report['run_id']}  ({report['started_at']})",
        f"  source: VMX folder, monolithicFlat VMDK of {cfg['disk_gib']} GiB (sparse) holding {cfg['data_gib']} GiB "
        f"in {cfg['pieces']} pieces of 64 KiB..4 MiB; destination kvm; {cfg['cpus']} CPUs; page cache {cfg['cache']}",
        f"  change between the syncs: {cfg['changes']} scattered 64 KiB writes = {_mib(cfg['changed_bytes']):.1f} MiB "
        f"({cfg['change_pct']} % of the data)",
        f"  load average before {cfg['loadavg_before']}, after {cfg['loadavg_after']} "
        "(other work on the host skews every figure)",
        "",
    ]
    rows = []
    for label, run, counters in (
        ("service execution 1", svc["execution_1"], svc["execution_1"]["result"]),
        ("service execution 2", svc["execution_2"], svc["execution_2"]["result"]),
        ("bare sync 1", bare["sync_1"], bare["sync_1"]["stats"]),
        ("bare sync 2", bare["sync_2"], bare["sync_2"]["stats"]),
    ):
        rows.append([label, run["wall_s"], run.get("task_s"), _mib(counters["bytes_read"]),
                     _mib(counters["bytes_written"]), _mib(counters["journal_bytes"]), counters["chunks_written"],
                     _mib(run["io"]["read_bytes"]), _mib(run["io"]["write_bytes"]), _mib(run["io"]["rchar"])])
    out.append("Syncs (MiB; counters from the sync's result, storage I/O from /proc/<pid>/io of the worker pool "
               "or of the benchmark)")
    out.extend("  " + line for line in _table(
        ["run", "wall s", "task s", "read", "written", "journal", "chunks", "disk read", "disk write", "rchar"],
        rows))
    out.append("  wall: POST to COMPLETED seen by the client (service), the sync() call (bare)")
    out.append("")
    rows = [[f"execution {n}", *[svc[f"execution_{n}"]["breakdown"][k] for k in
                                 ("queue_to_start", *SEGMENTS, "finalize")]] for n in (1, 2)]
    out.append("Where the service's time goes (s; from the task's step and event timestamps)")
    out.extend("  " + line for line in _table(
        ["", "dispatch", "export", "convert to raw", "sync+checksum", "record", "finalize"], rows))
    rows = [[f"after sync {n}", *[bare[f"pieces_{n}"][k] for k in ("convert_s", "checksum_s", "unlink_s",
                                                                    "hash_in_memory_s")],
             bare[f"sync_{n}"]["wall_s"]] for n in (1, 2)]
    out.append("The stage's pieces timed alone (s): qemu-img convert of the VMDK to raw (cold source), checksum and "
               "unlink of that raw (warm, as in the stage), the sync's zero test + sha256 over the data in memory")
    out.extend("  " + line for line in _table(
        ["", "convert to raw", "checksum", "unlink", "hash in memory", "bare sync"], rows))
    split = report["second_execution_split"]
    out.append("  execution 2, split: " + ", ".join(f"{k} {_fmt(v)}" for k, v in split.items()))
    out.append("")
    out.append("Ratios and goals")
    out.append(f"  second/first sync:   service {r['service_second_first_wall']:.1%} (task alone "
               f"{r['service_second_first_task']:.1%})  {goals['service_second_sync']};   bare "
               f"{r['bare_second_first']:.1%}  {goals['bare_second_sync']}   "
               f"(goal <= {goals['second_sync_max_fraction']:.0%})")
    out.append(f"  written/changed:     service {r['service_written_vs_changed']:.2f}x  {goals['service_written']};   "
               f"bare {r['bare_written_vs_changed']:.2f}x  {goals['bare_written']}   "
               f"(goal <= {goals['written_max_vs_changed']}x; replica bytes, the journal writes them once more: "
               f"{r['service_journal_plus_replica_vs_changed']:.2f}x)")
    out.append(f"  storage writes/changed (everything the process wrote, staging included): service "
               f"{r['service_storage_writes_vs_changed']:.1f}x, bare {r['bare_storage_writes_vs_changed']:.1f}x")
    out.append(f"  service/bare wall:   first {r['overhead_first']:.2f}x, second {r['overhead_second']:.2f}x")
    dom = report["dominant_second_execution"]
    if dom["part"]:
        out.append(f"  execution 2 is dominated by {dom['part']}: {dom['seconds']:.1f} s of {dom['of_wall_s']:.1f} s")
    kvm = report.get("kvm_bitmap")
    if kvm:
        out.append("")
        out.append(f"kvm source, qcow2 with a persistent dirty bitmap ({kvm['changes']} changes through qemu-io = "
                   f"{_mib(kvm['changed_bytes']):.1f} MiB)")
        rows = [[f"execution {n}", kvm[f"execution_{n}"]["wall_s"], kvm[f"execution_{n}"]["task_s"],
                 kvm[f"execution_{n}"]["result"].get("method"), _mib(kvm[f"execution_{n}"]["result"]["bytes_read"]),
                 _mib(kvm[f"execution_{n}"]["result"]["bytes_written"])] for n in (1, 2)]
        out.extend("  " + line for line in _table(["", "wall s", "task s", "method", "read MiB", "written MiB"], rows))
        kr = kvm["ratios"]
        out.append(f"  second/first: {kr['second_first_wall']:.1%} wall (task alone {kr['second_first_task']:.1%})  "
                   f"{verdict(kr['second_first_wall'], SECOND_SYNC_GOAL)};  read/changed {kr['read_vs_changed']:.2f}x, "
                   f"written/changed {kr['written_vs_changed']:.2f}x  {verdict(kr['written_vs_changed'], WRITE_GOAL)}")
    out.append("")
    out.append(f"Checks: {report['verify']}")
    out.append(f"Peak temporary space: {report['peak_temp_bytes'] / (1 << 30):.2f} GiB allocated")
    logs = report["logs"]
    bad = {k: v for k, v in logs["counts"].items() if v["errors"] or v["tracebacks"]}
    out.append(f"Service logs: {bad or 'no ERROR lines or tracebacks'}; kept in {logs['dir']}")
    out.extend(f"  {line}" for line in logs["samples"])
    return "\n".join(out)
