"""Figures of the benchmark: percentiles, dispatch gaps from the tasks table, the text report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

STAGE_TYPES = (
    "EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING", "IMPORT_INSTANCE", "BOOT_INSTANCE",
    "FINALIZE_INSTANCE_DEPLOYMENT",
)
API_P99_GOAL_MS = 50.0
OVERHEAD_GOAL_MS = 20.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, p50, p95, p99 and max of a list of milliseconds."""
    return {
        "count": len(values_ms),
        "mean_ms": _r(sum(values_ms) / len(values_ms)) if values_ms else math.nan,
        "p50_ms": _r(percentile(values_ms, 50)),
        "p95_ms": _r(percentile(values_ms, 95)),
        "p99_ms": _r(percentile(values_ms, 99)),
        "max_ms": _r(max(values_ms, default=math.nan)),
    }


def _r(value: float) -> float:
    return round(value, 2)


def dispatch_gaps(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per stage task: its start minus the latest finish of the tasks it depends on.

    ``rows`` are task rows (``id``, ``task_type``, ``depends_on``, ``started_at``, ``finished_at``).
    Also the run time of each stage, for scale.
    """
    rows = list(rows)
    finished: dict[str, datetime | None] = {r["id"]: r["finished_at"] for r in rows}
    gaps: list[float] = []
    by_type: dict[str, list[float]] = {}
    run_by_type: dict[str, list[float]] = {}
    skipped = 0
    for row in rows:
        if row["task_type"] not in STAGE_TYPES:
            continue
        deps = [finished.get(d) for d in row["depends_on"] or []]
        if row["started_at"] is None or not deps or any(d is None for d in deps):
            skipped += 1
            continue
        gap = (row["started_at"] - max(d for d in deps if d is not None)).total_seconds() * 1000
        gaps.append(gap)
        by_type.setdefault(row["task_type"], []).append(gap)
        if row["finished_at"] is not None:
            run = (row["finished_at"] - row["started_at"]).total_seconds() * 1000
            run_by_type.setdefault(row["task_type"], []).append(run)
    return {
        "all": summary(gaps),
        "skipped": skipped,
        "by_stage": {
            t: {"gap": summary(by_type[t]), "run": summary(run_by_type.get(t, []))} for t in STAGE_TYPES if t in by_type
        },
    }


def _fmt(value: Any, unit: str = "") -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.1f}{unit}"
    return f"{value}{unit}"


def _verdict(value: float, goal: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "PASS" if value <= goal else "FAIL"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[str(h) for h in header], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def render(report: dict[str, Any]) -> str:
    """The plain-text report of a run (the JSON report, laid out)."""
    out: list[str] = []
    cfg, load = report["config"], report["load"]
    out.append(f"Coriolis API benchmark  run {report['run_id']}  ({report['started_at']})")
    out.append(
        f"  {cfg['migrations']} stub migrations (1 instance, 1 disk of 1-2 MiB, qcow2), "
        f"{cfg['post_threads']} POST threads, {cfg['get_threads']} GET threads; API {cfg['api_workers']} "
        f"gunicorn workers x {cfg['api_threads']} threads; one worker pool per queue; {cfg['cpus']} CPUs; "
        f"services in {'one session each' if cfg.get('sessions') == 'own' else 'the benchmark session'}"
    )
    out.append(f"  load average (1/5/15 min) before the load phase {cfg['loadavg_before']}, after "
               f"{cfg['loadavg_after']}: anything else running on the host skews every figure")
    out.append("")
    out.append(
        f"Completion: {load['completed']}/{load['submitted']} COMPLETED in {load['wall_s']:.1f} s "
        f"(first POST to last finish; {load['migrations_per_s']:.2f} migrations/s)"
        + ("" if load["ok"] else f"   ** FAILED: {load['not_completed']} **")
    )
    e2e = load["end_to_end"]
    out.append(f"  per migration, created -> finished: p50 {_fmt(e2e['p50_ms'] / 1000, ' s')}, "
               f"p95 {_fmt(e2e['p95_ms'] / 1000, ' s')}, max {_fmt(e2e['max_ms'] / 1000, ' s')}")
    out.append("")
    api = report["api"]
    rows = []
    for label, data, names in (
        ("under load", api, ("post", "get_list", "get_one", "get_all")),
        ("no load", api["quiet"], ("get_list", "get_one", "get_all")),
        ("no load", api, ("idle_post",)),
    ):
        for name in names:
            s = data[name]
            rows.append([name.replace("idle_", ""), label, s["count"], s["errors"], s["p50_ms"], s["p95_ms"],
                         s["p99_ms"], s["max_ms"], _verdict(s["p99_ms"], API_P99_GOAL_MS),
                         s["server_p50_ms"], s["server_p99_ms"]])
    out.append("API latency (ms; client side, and server side from the access log)        goal: p99 <= 50 ms")
    out.extend("  " + line for line in _table(
        ["request", "when", "n", "errors", "p50", "p95", "p99", "max", "p99 goal", "srv p50", "srv p99"], rows))
    out.append(f"  GET throughput: {api['get_throughput_rps']:.1f} requests/s over {api['get_window_s']:.1f} s "
               f"while migrations ran ({api['quiet']['get_throughput_rps']:.1f}/s with none running); "
               f"POST burst: {api['post_throughput_rps']:.1f} requests/s")
    out.append(f"  (list = /migrations?limit=50, one = /migrations/<id> with tasks; the benchmark client itself "
               f"used {api['client_cpu_s']:.0f} s of CPU)")
    out.append("")
    ref = report["reference"]
    for phase in ("idle", "load"):
        gaps = report["dispatch"][phase]
        if not gaps:
            continue
        a = gaps["all"]
        ratio = a["mean_ms"] / ref["hop_ms"] if ref.get("hop_ms") else math.nan
        title = ("Dispatch overhead, unloaded (migrations one at a time)" if phase == "idle"
                 else f"Dispatch overhead under load ({cfg['migrations']} migrations at once; includes queueing)")
        out.append(f"{title}        goal: <= 20 ms per task")
        out.append(f"  per task: mean {_fmt(a['mean_ms'])} ms  p50 {_fmt(a['p50_ms'])} ms  p99 {_fmt(a['p99_ms'])} ms"
                   f"  (n={a['count']})  {_verdict(a['mean_ms'], OVERHEAD_GOAL_MS)}"
                   f"   = {_fmt(ratio)} x bare-Celery hop")
        rows = [[t, v["gap"]["count"], v["gap"]["p50_ms"], v["gap"]["p99_ms"], v["gap"]["mean_ms"], v["run"]["p50_ms"]]
                for t, v in gaps["by_stage"].items()]
        out.extend("  " + line for line in _table(["stage", "n", "gap p50", "gap p99", "gap mean", "run p50"], rows))
        out.append("")
    out.append(f"Reference: bare Celery chain of {ref['chain_length']} no-op tasks on the same broker: "
               f"{_fmt(ref['hop_ms'])} ms per hop ({ref['total_s']:.2f} s total)")
    out.append("")
    cpu = report.get("cpu_seconds_during_load") or {}
    if cpu:
        total = sum(cpu.values())
        out.append(f"CPU seconds each process tree used while the {cfg['migrations']} migrations ran (children it "
                   f"started included: qemu-img, qemu-nbd), per migration, and the share of the {total:.1f} s")
        ranked = sorted(cpu.items(), key=lambda kv: -kv[1])
        rows = [[name, round(sec, 1), round(1000 * sec / max(1, cfg["migrations"]), 1),
                 f"{100 * sec / total:.0f} %" if total else "-"] for name, sec in ranked]
        out.extend("  " + line for line in _table(["process tree", "cpu s", "ms/migration", "share"], rows))
        out.append("")
    rows = [[name, m["processes"], m["peak_rss_mib"], m["peak_pss_mib"], m["sum_vmhwm_mib"], m["max_process_vmhwm_mib"]]
            for name, m in report["memory"].items()]
    rows.append(["total", sum(m["processes"] for m in report["memory"].values()),
                 *(round(sum(m[k] for m in report["memory"].values()), 1)
                   for k in ("peak_rss_mib", "peak_pss_mib", "sum_vmhwm_mib")), "-"])
    out.append("Peak memory (MiB) of each process tree (parent + children, incl. qemu-img), sampled every 0.5 s;")
    out.append("  RSS counts pages shared by forked children in each; PSS shares them out; VmHWM: long-lived processes")
    out.extend("  " + line for line in _table(
        ["process tree", "procs", "peak RSS", "peak PSS", "sum VmHWM", "max VmHWM"], rows))
    out.append("")
    logs = report["logs"]
    out.append("Service logs: " + ", ".join(f"{k}: {v['errors']} error lines, {v['tracebacks']} tracebacks"
                                            for k, v in logs["counts"].items() if v["errors"] or v["tracebacks"])
               if any(v["errors"] or v["tracebacks"] for v in logs["counts"].values())
               else "Service logs: no ERROR lines or tracebacks")
    for line in logs["samples"]:
        out.append(f"  {line}")
    out.append(f"  logs kept in {logs['dir']}")
    return "\n".join(out)
