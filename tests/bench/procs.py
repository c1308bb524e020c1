"""Service processes of the benchmark: start, watch memory of each process tree, stop for sure."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class Service:
    """One started process (gunicorn master, celery parent...) and its log."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    peak_rss_kib: int = 0
    peak_pss_kib: int = 0
    peak_procs: int = 0
    hwm_kib: dict[int, int] = field(default_factory=dict)
    last_pids: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Fleet:
    """Every process the benchmark started; ``stop()`` ends them all (and their children)."""

    def __init__(self, log_dir: Path, cwd: Path, own_sessions: bool = False) -> None:
        self.log_dir = log_dir
        self.cwd = cwd
        self.own_sessions = own_sessions
        self.services: dict[str, Service] = {}
        self._sampler: threading.Thread | None = None
        self._stop_sampling = threading.Event()
        self.samples = 0

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")
        # a process group of its own: Ctrl-C reaches only the benchmark, which stops the services in order.
        # The session is the benchmark's, as `coriolis all-in-one` starts its services (one scheduling
        # group where the kernel groups by session), or, with ``own_sessions``, one each, as systemd does
        proc = subprocess.Popen(
            argv, env=env, cwd=self.cwd, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=self.own_sessions, process_group=None if self.own_sessions else 0,
        )
        service = Service(name, proc, log_path, log_file)
        self.services[name] = service
        return service

    def dead(self) -> list[Service]:
        return [s for s in self.services.values() if not s.alive()]

    # memory ------------------------------------------------------------------------------------

    def start_sampling(self, interval: float = 0.5) -> None:
        self._sampler = threading.Thread(target=self._sample_loop, args=(interval,), daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(5)

    def _sample_loop(self, interval: float) -> None:
        while not self._stop_sampling.wait(interval):
            self.sample()

    def sample(self) -> None:
        """Add one reading of VmRSS (summed over each tree) and VmHWM (per process)."""
        children = _children_map()
        for service in list(self.services.values()):
            if not service.alive():
                continue
            pids = _tree(service.pid, children)
            rss = pss = 0
            for pid in pids:
                status = _status(pid)
                rss += status.get("VmRSS", 0)
                pss += status.get("Pss", 0)
                if "VmHWM" in status:
                    service.hwm_kib[pid] = max(service.hwm_kib.get(pid, 0), status["VmHWM"])
            service.peak_rss_kib = max(service.peak_rss_kib, rss)
            service.peak_pss_kib = max(service.peak_pss_kib, pss)
            service.peak_procs = max(service.peak_procs, len(pids))
            service.last_pids = pids
        self.samples += 1

    def memory_report(self) -> dict[str, dict[str, float | int]]:
        """Per tree: peak of the summed VmRSS and Pss, and VmHWM of its long-lived processes.

        Transient children (``qemu-img``) count in the sampled peaks but not in the VmHWM sum,
        which covers the processes alive at the last sample (the pool's parent and children).
        """
        return {
            name: {
                "peak_rss_mib": round(s.peak_rss_kib / 1024, 1),
                "peak_pss_mib": round(s.peak_pss_kib / 1024, 1),
                "sum_vmhwm_mib": round(sum(s.hwm_kib.get(p, 0) for p in s.last_pids) / 1024, 1),
                "max_process_vmhwm_mib": round(max(s.hwm_kib.values(), default=0) / 1024, 1),
                "processes": s.peak_procs,
            }
            for name, s in self.services.items()
        }

    # CPU ---------------------------------------------------------------------------------------

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each tree has used so far: its live processes' own, and what the children they
        reaped used (the qemu-img and qemu-nbd a stage starts, and exited pool children)."""
        children = _children_map()
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for name, service in self.services.items():
            total = 0
            for pid in _tree(service.pid, children) if service.alive() else []:
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            out[name] = total / tick
        return out

    # shutdown ----------------------------------------------------------------------------------

    def stop(self, timeout: float = 25.0) -> None:
        """SIGTERM every service, wait, then SIGKILL what is left of each process group."""
        self.stop_sampling()
        for service in self.services.values():
            if service.alive():
                _signal(service.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for service in self.services.values():
            try:
                service.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(service.pid, signal.SIGKILL)
                service.proc.wait(5)
        for service in self.services.values():
            # children orphaned by a parent that died stay in the group it led (pgid == its pid)
            try:
                os.killpg(service.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            service.log_file.close()


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, ()))
    return pids


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (status) and Pss (smaps_rollup) of a process, in KiB; empty once it is gone."""
    values: dict[str, int] = {}
    for name, keys in (("status", ("VmRSS:", "VmHWM:")), ("smaps_rollup", ("Pss:",))):
        try:
            with open(f"/proc/{pid}/{name}") as fh:
                for line in fh:
                    if line.startswith(keys):
                        key, rest = line.split(":", 1)
                        values[key] = int(rest.split()[0])
        except OSError:
            pass
    return values
