"""Appliance session directories on a worker host and the processes (qemu, libguestfs' recovery) that name them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

from coriolis.children import process_alive

SESSION_PREFIX = "coriolis-appliance-"


def processes_mentioning(text: str) -> list[int]:
    """PIDs of the processes whose command line contains ``text`` (a session's qemu names its dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if text.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def kill_processes_mentioning(text: str) -> None:
    """SIGKILL every process ``processes_mentioning(text)`` finds (one already gone is no error)."""
    for pid in processes_mentioning(text):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def sweep_stale_sessions(run_dir: str = "/tmp") -> list[str]:
    """Remove sessions of dead processes (a SIGKILLed worker): their qemu, then their directory."""
    removed = []
    for path in Path(run_dir).glob(SESSION_PREFIX + "*"):
        try:
            pid = int(path.name[len(SESSION_PREFIX) :].split("-")[0])
        except ValueError:
            continue
        if process_alive(pid):
            continue
        kill_processes_mentioning(str(path))
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    return removed
