"""Boot check: run qemu with the serial console in a file and watch it for a marker or a failure."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from providers.kvm.disks import remove_quietly, stop_process
from providers.types import BootResult, Reporter

FAILURE_PATTERNS = (
    "Gave up waiting for root",
    "end Kernel panic",
    "Kernel panic",
    "No bootable device",
    "Boot failed",
    # systemd's emergency mode and dracut's emergency shell wait for a root password for ever
    "You are in emergency mode",
    "Give root password for maintenance",
    "Entering emergency mode",
    "dracut-initqueue timeout",
)
FAILURE_RE = re.compile("|".join(re.escape(p) for p in FAILURE_PATTERNS))
_ESCAPES_RE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|.)")
POLL_SECONDS = 0.2
TAIL_BYTES = 2048


@dataclass
class ConsoleWatcher:
    """Reads a growing console log and finds the first marker or failure line in it."""

    path: Path
    marker: re.Pattern[str]
    offset: int = 0
    pending: str = field(default="", repr=False)

    def poll(self) -> tuple[str, str] | None:
        """``("marker" | "failure", line)`` for the first line that matches, else None."""
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:
            return None
        self.offset += len(data)
        lines = (self.pending + data.decode(errors="replace")).split("\n")
        self.pending = lines.pop()
        for raw_line in lines:
            line = _ESCAPES_RE.sub("", raw_line).rstrip("\r")
            if self.marker.search(line):
                return "marker", line.strip()
            if FAILURE_RE.search(line):
                return "failure", line.strip()
        # A login prompt has no newline after it, so the unfinished line is checked too.
        if self.marker.search(self.pending):
            return "marker", _ESCAPES_RE.sub("", self.pending).strip()
        if FAILURE_RE.search(self.pending):
            return "failure", _ESCAPES_RE.sub("", self.pending).strip()
        self.pending = self.pending[-4096:]
        return None


def console_tail(path: Path, size: int = TAIL_BYTES) -> str:
    """The last ``size`` bytes of the console log, as text."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, os.path.getsize(path) - size))
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def run_boot(
    argv: list[str],
    log_path: Path,
    pidfile: Path,
    marker: str,
    timeout: float,
    reporter: Reporter,
) -> BootResult:
    """Start qemu, wait for ``marker`` on its console, always stop it.

    Args:
        argv: the full qemu command line, with the serial console going to ``log_path``.
        log_path: the console log file (replaced).
        pidfile: where qemu's PID is kept while it runs, so cleanup can find it.
        marker: regex of a console line that means the guest booted.
        timeout: seconds to wait for the marker.
        reporter: progress channel; ``Cancelled`` from it stops qemu and propagates.
    """
    remove_quietly(log_path)
    log_path.touch()
    watcher = ConsoleWatcher(log_path, re.compile(marker))
    errors_path = log_path.with_suffix(".qemu-stderr")
    start = time.monotonic()
    with open(errors_path, "wb") as errors:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, start_new_session=True
        )
    pidfile.write_text(f"{proc.pid}\n")
    try:
        result = _watch(proc, watcher, start, timeout, reporter, errors_path)
    finally:
        stop_process(proc)
        remove_quietly(pidfile)
    tail = console_tail(log_path)
    with contextlib.suppress(FileNotFoundError):
        errors_path.unlink()
    return BootResult(result.booted, result.seconds, result.message, tail)


def _watch(
    proc: subprocess.Popen,
    watcher: ConsoleWatcher,
    start: float,
    timeout: float,
    reporter: Reporter,
    errors_path: Path,
) -> BootResult:
    next_report = 0.0
    while True:
        found = watcher.poll()
        elapsed = time.monotonic() - start
        if found:
            kind, line = found
            if kind == "marker":
                return BootResult(True, round(elapsed, 2), line)
            return BootResult(False, round(elapsed, 2), f"boot failed: {line}")
        code = proc.poll()
        if code is not None:
            found = watcher.poll()
            if found and found[0] == "marker":
                return BootResult(True, round(elapsed, 2), found[1])
            if found:
                return BootResult(False, round(elapsed, 2), f"boot failed: {found[1]}")
            stderr = errors_path.read_text(errors="replace").strip()[-500:]
            return BootResult(False, round(elapsed, 2), f"qemu exited with code {code}: {stderr}")
        if elapsed >= timeout:
            message = f"timed out after {timeout:g} s waiting for {watcher.marker.pattern!r}"
            return BootResult(False, round(elapsed, 2), message)
        if elapsed >= next_report:
            reporter.step(int(elapsed), int(timeout), "waiting for boot marker")
            next_report += 1.0
        time.sleep(POLL_SECONDS)
