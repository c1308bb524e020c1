"""``--wait``: follow a run (migration, execution, deployment) with live per-task progress bars.

Exit codes: 0 completed, 1 error, 2 canceled, 3 timed out (the run goes on; only the wait ended).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn
from rich.text import Text

from coriolis_client.output import console

EXIT_CODES = {"COMPLETED": 0, "ERROR": 1, "CANCELED": 2}
EXIT_TIMEOUT = 3
FINISHED = frozenset(EXIT_CODES)
BYTE_THRESHOLD = 1 << 16  # a task counting more steps than this counts bytes


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _is_bytes(task) -> bool:
    return bool(task.total and task.total > BYTE_THRESHOLD)


class AmountColumn(ProgressColumn):
    """Done/total as bytes (disk stages) or as steps (the others)."""

    def render(self, task) -> Text:
        if task.total is None:
            return Text(f"{task.completed:.0f}")
        if _is_bytes(task):
            return Text(f"{_size(task.completed)}/{_size(task.total)}")
        return Text(f"{task.completed:.0f}/{task.total:.0f}")


class RateColumn(ProgressColumn):
    """The rate the task itself reports (``progress.rate``), not one guessed from our polling."""

    def render(self, task) -> Text:
        rate = task.fields.get("rate")
        if not rate or not _is_bytes(task):
            return Text("")
        return Text(f"{_size(rate)}/s")


class EtaColumn(ProgressColumn):
    """Seconds left at the task's reported rate."""

    def render(self, task) -> Text:
        rate = task.fields.get("rate")
        if task.fields.get("status") != "RUNNING" or not rate or task.total is None:
            return Text("")
        left = max(task.total - task.completed, 0) / rate
        return Text(f"ETA {int(left // 60)}:{int(left % 60):02d}")


def task_amounts(task: dict[str, Any]) -> tuple[float, float | None, float | None]:
    """(current, total, rate) of a task: its live progress, else its last stored progress update."""
    live = task.get("progress") or {}
    updates = task.get("progress_updates") or []
    last = updates[-1] if updates else {}
    current = live.get("current_step", last.get("current_step")) or 0
    total = live.get("total_steps", last.get("total_steps"))
    if task.get("status") == "COMPLETED":
        total = total or 1
        current = total
    return float(current), (float(total) if total else None), live.get("rate")


def _label(task: dict[str, Any]) -> str:
    disk = f" {task['disk_id']}" if task.get("disk_id") else ""
    return f"{task.get('instance') or ''} {task['task_type']}{disk}".strip()


class RunView:
    """One progress bar per task of a run, updated from each polled document."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), AmountColumn(), RateColumn(), EtaColumn(),
            TextColumn("{task.fields[status]}"), console=console(stderr=True), transient=False,
        )
        self.ids: dict[str, TaskID] = {}

    def update(self, run: dict[str, Any]) -> None:
        for task in run.get("tasks") or []:
            current, total, rate = task_amounts(task)
            if task["id"] not in self.ids:
                self.ids[task["id"]] = self.progress.add_task(_label(task), total=total, status=task["status"])
            self.progress.update(self.ids[task["id"]], completed=current, total=total, rate=rate,
                                 status=task["status"])


def wait_run(fetch: Callable[[], dict[str, Any]], what: str, timeout: float | None = None,
             interval: float = 0.5, show: bool = True) -> tuple[dict[str, Any], int]:
    """Poll ``fetch`` until the run finishes; answers its last document and the exit code.

    Args:
        fetch: answers the run's current document (with ``tasks``).
        what: how the run is named in messages, e.g. ``migration 1234``.
        timeout: seconds to wait at most (``None``: no limit).
        interval: seconds between polls.
        show: draw progress bars on standard error.
    """
    deadline = None if not timeout else time.monotonic() + timeout
    view = RunView() if show else None
    err = console(stderr=True)
    run = fetch()
    if view:
        view.progress.start()
    try:
        while True:
            if view:
                view.update(run)
            status = run.get("status") or run.get("last_execution_status")
            if status in FINISHED:
                break
            if deadline is not None and time.monotonic() >= deadline:
                err.print(f"{what}: still {status} after {timeout:g} s; stopped waiting")
                return run, EXIT_TIMEOUT
            time.sleep(interval)
            run = fetch()
    finally:
        if view:
            view.progress.stop()
    reason = f": {run['last_error']}" if status != "COMPLETED" and run.get("last_error") else ""
    err.print(f"{what}: {status}{reason}", markup=False, highlight=False)
    return run, EXIT_CODES[status]
