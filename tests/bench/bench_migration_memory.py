"""Peak memory of process trees (RSS and PSS from /proc), sampled in a thread during the migration benchmark."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _rss_pss(pid: int) -> tuple[int, int, str]:
    """(RSS bytes, PSS bytes, command name) of one process; zeros when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            rss = int(f.read().split()[1]) * PAGE_SIZE
        pss = 0
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().decode(errors="replace").strip()
        if comm.startswith("[celeryd"):  # setproctitle renames pool processes
            comm = "celery"
        return rss, pss, comm
    except (OSError, ValueError, IndexError):
        return 0, 0, ""


@dataclass
class PoolSample:
    """One reading of one pool's process tree."""

    t: float
    rss: int
    pss: int
    procs: int
    largest: str


class MemorySampler:
    """Samples the RSS and PSS of each pool's process tree (parent + children) in a thread."""

    def __init__(self, roots: dict[str, int], interval: float = 0.25) -> None:
        self.roots = roots
        self.interval = interval
        self.samples: dict[str, list[PoolSample]] = {name: [] for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            kids = _children_map()
            for name, root in self.roots.items():
                rss = pss = 0
                biggest = (0, "")
                pids = _tree(root, kids)
                for pid in pids:
                    r, p, comm = _rss_pss(pid)
                    rss += r
                    pss += p
                    biggest = max(biggest, (r, comm))
                self.samples[name].append(PoolSample(now, rss, pss, len(pids), biggest[1]))
            self._stop.wait(self.interval)

    def peaks(self, start: float | None = None, end: float | None = None) -> dict[str, dict[str, Any]]:
        """Per pool: peak RSS/PSS sums (MiB) and process count within [start, end] (epoch seconds)."""
        out: dict[str, dict[str, Any]] = {}
        for name, samples in self.samples.items():
            window = [
                s for s in samples if (start is None or s.t >= start) and (end is None or s.t <= end)
            ]
            if not window:
                out[name] = {"samples": 0}
                continue
            top = max(window, key=lambda s: s.rss)
            out[name] = {
                "samples": len(window),
                "peak_rss_mib": round(top.rss / MIB, 1),
                "peak_pss_mib": round(max(s.pss for s in window) / MIB, 1),
                "max_procs": max(s.procs for s in window),
                "largest_proc_at_peak": top.largest,
            }
        return out


# ---------------------------------------------------------------- the service
