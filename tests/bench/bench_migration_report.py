"""The migration benchmark's report (``bench_migration.py``): its ratios against the goals, and the text printed."""

from __future__ import annotations

import os
from typing import Any

GOAL_BARE = 1.3
GOAL_V2V = 0.5
MIB = 1 << 20


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / MIB:,.0f} MiB"


def _fmt(x: float | None, unit: str = " s") -> str:
    return "-" if x is None else f"{x:.2f}{unit}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def print_bare(bare: dict[str, Any]) -> None:
    for label, r in [*((f"run {n + 1}", r) for n, r in enumerate(bare.get("runs", []))), ("mean", bare)]:
        print(f"    {label:<6} extract {_fmt(r.get('extract_s'))} + qemu-img convert {_fmt(r.get('convert_s'))}"
              f" + morph {_fmt(r.get('morph_s'))} (appliance launch {_fmt(r.get('appliance_launch_s'))})"
              f" = {_fmt(r.get('total_s'))}"
              + (f"   (load {r['load_before']})" if "load_before" in r else ""))


def print_stages(title: str, summary: dict[str, Any]) -> None:
    print(f"\n{title}: {summary['status']}  total {_fmt(summary['total_s'])} (server {_fmt(summary['server_total_s'])})"
          f", boot stage {_fmt(summary['boot_stage_s'])} (guest {_fmt(summary['boot_result_s'])})"
          f" -> without boot {_fmt(summary['no_boot_s'])}; load {summary['load_before']} -> {summary['load_after']}")
    if summary["status"] != "COMPLETED":
        print(f"  last_error: {summary['last_error']}")
    print(f"  {'stage':<32}{'starts at':>10}{'duration':>10}{'queue wait':>12}  host")
    for r in summary["stages"]:
        what = r["task_type"] + (f" {r['disk_id']}" if r["disk_id"] else "")
        print(f"  {what:<32}{_fmt(r['start_offset_s']):>10}{_fmt(r['duration_s']):>10}"
              f"{_fmt(r['queue_wait_s']):>12}  {(r['host'] or '').split('@')[0]}")
    cb = summary.get("convert_breakdown") or {}
    if cb:
        print(f"  CONVERT_DISK breakdown: one pass (read, hash, write) {_fmt(cb.get('one_pass_s'))},"
              f" read-back check {_fmt(cb.get('verify_s'))}; data read {_mib(cb.get('bytes_read'))},"
              f" written {_mib(cb.get('bytes_written'))}")
    print(f"  sum of stages {_fmt(summary['stage_sum_s'])}, sum of queue waits {_fmt(summary['queue_wait_sum_s'])}")
    timings = summary.get("morph_timings") or {}
    if timings:
        print("  OS_MORPHING breakdown: " + ", ".join(f"{k} {_fmt(v)}" for k, v in timings.items()))
    print(f"  {'pool (disk-move window)':<26}{'peak RSS':>12}{'peak PSS':>12}{'procs':>7}  largest at peak"
          f"   | whole-run peak RSS")
    window = summary["memory"]["disk_move_window"]
    whole = summary["memory"]["whole_migration"]
    for pool in sorted(window):
        w, a = window[pool], whole.get(pool, {})
        print(f"  {pool:<26}{w.get('peak_rss_mib', 0):>8.0f} MiB{w.get('peak_pss_mib', 0):>8.0f} MiB"
              f"{w.get('max_procs', 0):>7}  {w.get('largest_proc_at_peak', ''):<16}"
              f"| {a.get('peak_rss_mib', 0):.0f} MiB ({a.get('largest_proc_at_peak', '')})")


def print_report(report: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    print(f"OVA -> KVM migration benchmark  ({report['started']}, {os.cpu_count()} cores, "
          f"load at start {report['load_start']}, at end {report.get('load_end')})")
    sizes = report.get("sizes", {})
    for key, val in sizes.items():
        print(f"  {key:<34}{_mib(val) if isinstance(val, int) else val}")
    if "service_start_s" in report:
        print(f"  service start (DB, API, {len(report.get('pools', []))} pools): {report['service_start_s']:.1f} s")
    base = report.get("coriolis_base")
    if base:
        print_stages("1. Coriolis, base OVA", base)
    bare = report.get("reference_bare")
    if bare:
        print("\n2. Reference (a) bare steps, mean of the runs before and after the Coriolis migration:")
        print_bare(bare)
    v2v = report.get("reference_v2v")
    if v2v:
        if v2v.get("ok"):
            print(f"\n3. Reference (b) virt-v2v: {_fmt(v2v['seconds'])}  ({v2v.get('version', '')}; appliance "
                  f"{'cached' if v2v.get('appliance', {}).get('cached') else 'built first, not counted'})")
        else:
            print(f"\n3. Reference (b) virt-v2v FAILED: {v2v.get('error')}")
            for line in v2v.get("log_tail", [])[-12:]:
                print(f"     | {line}")
    big = report.get("coriolis_10g")
    if big:
        print_stages("4. Coriolis, 10 GiB-virtual OVA (+2 GiB data)", big)
        bare10 = report.get("reference_bare_10g")
        if bare10:
            print("  reference (a) bare steps on the same OVA:")
            print_bare(bare10)
    ratios = report.get("ratios", {})
    print("\nRatios")
    for key, val in ratios.items():
        print(f"  {key:<52}{_show_ratio(val)}")
    for phase, logs in (report.get("log_problems") or {}).items():
        for log_name, lines in logs.items():
            print(f"\n{phase} {log_name}.log: lines that look like warnings or errors")
            for line in lines:
                print(f"   {line}")
    if report.get("error"):
        print(f"\nBENCH ERROR: {report['error']}")
    print("=" * 100)


def _goal(value: float | None, goal: float) -> dict[str, Any]:
    return {"value": value, "goal": f"<= {goal}", "met": None if value is None else value <= goal}


def compute_ratios(report: dict[str, Any]) -> dict[str, Any]:
    base, bare, v2v = report.get("coriolis_base"), report.get("reference_bare"), report.get("reference_v2v")
    big, bare10 = report.get("coriolis_10g"), report.get("reference_bare_10g")
    sizes = report.get("sizes", {})
    out: dict[str, Any] = {}
    if base and bare:
        out["coriolis(no boot) / bare steps"] = _goal(_ratio(base["no_boot_s"], bare["total_s"]), GOAL_BARE)
    if base and bare:
        moved = sum(r["duration_s"] or 0 for r in base["stages"] if r["task_type"] in ("EXPORT_DISK", "CONVERT_DISK"))
        out["coriolis export+convert / bare extract+convert"] = _ratio(moved, bare["extract_s"] + bare["convert_s"])
    for label, run, key in (("base", base, "base raw allocated"), ("10g", big, "10g raw allocated")):
        read = (run or {}).get("convert_breakdown", {}).get("bytes_read")
        if read and sizes.get(key):
            out[f"{label}: guest data read / source allocated"] = _ratio(read, sizes[key])
        breakdown = (run or {}).get("convert_breakdown", {})
        if breakdown.get("source_file_bytes_read") and sizes.get(key):
            total = breakdown["source_file_bytes_read"] + run.get("export_bytes_read", 0)
            storage = breakdown["source_storage_bytes_read"] + run.get("export_storage_bytes_read", 0)
            out[f"{label}: bytes read from storage (export + convert, cold cache) / source allocated (goal <= 1.1)"] = (
                _goal(_ratio(storage, sizes[key]), 1.1))
            out[f"{label}: bytes read calls returned (page cache included) / source allocated"] = _ratio(
                total, sizes[key])
            out[f"{label}: bytes read from storage / the OVA's size"] = _ratio(storage, run["ova_bytes"])
    if base and v2v:
        if v2v.get("ok"):
            out["coriolis(no boot) / virt-v2v"] = _goal(_ratio(base["no_boot_s"], v2v["seconds"]), GOAL_V2V)
        else:
            out["coriolis(no boot) / virt-v2v"] = {"value": None, "error": f"virt-v2v failed: {v2v.get('error')}"}
    if big and bare10:
        out["coriolis(no boot) / bare steps, 10g OVA"] = _goal(_ratio(big["no_boot_s"], bare10["total_s"]), GOAL_BARE)
    if base and big:
        out["10g/base: time without boot"] = _ratio(big["no_boot_s"], base["no_boot_s"])
        out["10g/base: allocated bytes (raw)"] = _ratio(sizes.get("10g raw allocated"), sizes.get("base raw allocated"))
        out["10g/base: VMDK bytes in the OVA"] = _ratio(big["ova_bytes"], base["ova_bytes"])
        out["10g/base: virtual size"] = _ratio(sizes.get("10g raw virtual"), sizes.get("base raw virtual"))
        extra = sizes.get("10g raw allocated", 0) - sizes.get("base raw allocated", 0)
        seconds = big["no_boot_s"] - base["no_boot_s"]
        out["10g - base: extra seconds without boot"] = round(seconds, 2)
        rate = round(extra / MIB / seconds, 1) if seconds > 0 else None
        out["10g - base: extra allocated MiB per extra second"] = rate
    if bare and bare10:
        out["bare 10g/base: time"] = _ratio(bare10["total_s"], bare["total_s"])
    return out


def _show_ratio(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("value") is None:
            return str(value.get("error") or "n/a")
        return f"{value['value']}  (goal {value['goal']}: {'met' if value['met'] else 'MISSED'})"
    return str(value)
