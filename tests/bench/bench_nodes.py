"""The worker layout of the API benchmark over N "nodes", and the one-node/N-node comparison.

A node is a set of worker processes with names of their own (``bench-n2-export-<run>``), as
``tests/coriolis_tasks/test_two_nodes.py`` starts them; every node serves every queue. With
``split`` slots each node gets its share of a queue's default pool size (rounded up, at least
one), so the service's capacity stays about the same and the comparison shows what the
distribution costs; with ``full`` slots each node gets the whole default (a scaled-out service).
On one host the "nodes" share its CPUs: this measures the service's overhead, not real scale-out.
"""

from __future__ import annotations

import math
from typing import Any

from coriolis_tasks.pipeline import QUEUES
from coriolis_tasks.pools import pool_for
from tests.bench.stats import _table

SLOTS = ("split", "full")


def worker_layout(nodes: int, run_id: str, slots: str = "split") -> list[dict[str, Any]]:
    """One entry per worker process: service key, node name, its queue and pool size (None: default)."""
    if nodes <= 1:
        return [{"key": f"worker-{q}", "name": f"bench-{q}-{run_id}", "queue": q, "concurrency": None}
                for q in QUEUES]
    layout = []
    for n in range(1, nodes + 1):
        for q in QUEUES:
            default = pool_for([q]).concurrency
            size = default if slots == "full" else max(1, math.ceil(default / nodes))
            layout.append({"key": f"worker-n{n}-{q}", "name": f"bench-n{n}-{q}-{run_id}", "queue": q,
                           "concurrency": size})
    return layout


def slots_per_queue(layout: list[dict[str, Any]]) -> dict[str, int]:
    """Pool processes serving each queue over every node."""
    total: dict[str, int] = {}
    for w in layout:
        total[w["queue"]] = total.get(w["queue"], 0) + (w["concurrency"] or pool_for([w["queue"]]).concurrency)
    return total


def figures(report: dict[str, Any]) -> dict[str, float]:
    """The figures compared between layouts, from one run's report."""
    api, load, memory = report["api"], report["load"], report["memory"]
    workers = [m for name, m in memory.items() if name.startswith("worker-") and name != "worker-ref"]
    return {
        "batch wall time (s)": load["wall_s"],
        "migrations completed": load["completed"],
        "API GET p50 while polling (ms)": api["get_all"]["p50_ms"],
        "API GET p99 while polling (ms)": api["get_all"]["p99_ms"],
        "API POST p99 (ms)": api["post"]["p99_ms"],
        "GET throughput while polling (req/s)": api["get_throughput_rps"],
        "dispatch gap mean, load (ms)": report["dispatch"]["load"]["all"]["mean_ms"],
        "dispatch gap p99, load (ms)": report["dispatch"]["load"]["all"]["p99_ms"],
        "dispatch gap mean, idle (ms)": (report["dispatch"]["idle"] or {}).get("all", {}).get("mean_ms", math.nan),
        "worker process trees": len(workers),
        "worker peak PSS, all trees (MiB)": round(sum(m["peak_pss_mib"] for m in workers), 1),
        "worker peak PSS per tree (MiB)": round(sum(m["peak_pss_mib"] for m in workers) / max(1, len(workers)), 1),
        "API peak PSS (MiB)": memory.get("api", {}).get("peak_pss_mib", math.nan),
    }


def compare(one: dict[str, Any], many: dict[str, Any], nodes: int) -> dict[str, Any]:
    """Side by side: each figure for one node and for ``nodes``, and the ratio N-node / one-node."""
    a, b = figures(one), figures(many)
    rows = {}
    for name in a:
        ratio = b[name] / a[name] if a[name] and not math.isnan(a[name]) and not math.isnan(b[name]) else math.nan
        rows[name] = {"one_node": a[name], f"{nodes}_nodes": b[name], "ratio": round(ratio, 3)}
    return {"nodes": nodes, "figures": rows,
            "slots_per_queue": {"one_node": one["config"].get("slots_per_queue"),
                                f"{nodes}_nodes": many["config"].get("slots_per_queue")}}


def render(comparison: dict[str, Any]) -> str:
    n = comparison["nodes"]
    out = [f"One node against {n} nodes, same run (ratio = {n} nodes / one node; < 1 is lower)"]
    rows = [[name, v["one_node"], v[f"{n}_nodes"], v["ratio"]] for name, v in comparison["figures"].items()]
    out.extend("  " + line for line in _table(["figure", "1 node", f"{n} nodes", "ratio"], rows))
    slots = comparison["slots_per_queue"]
    out.append(f"  pool processes per queue: 1 node {slots['one_node']}; {n} nodes {slots[f'{n}_nodes']}")
    out.append("  every node runs on this one host: they share its CPUs, so this is overhead, not scale-out")
    return "\n".join(out)
