"""Work bounded by the operator's settings, not by a tenant's word: disk size cap, runs and bytes in flight.

* ``max_disk_bytes``: a disk that declares more fails its run at instance info, before any data moves;
* ``max_active_runs_per_project``: a project with that many unfinished runs gets 409 for a new one;
* ``max_bytes_in_flight_per_project``: the declared disk bytes of a project's unfinished runs; a new run
  is refused (409) while the project is at the limit, and a run whose own disks would take it over
  fails at planning with the reason.

A limit of 0 means none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from coriolis.config import Settings
from coriolis.database.models import Migration
from coriolis.statuses import FINISHED_MIGRATION


class QuotaExceeded(Exception):
    """A limit would be passed; the message names it and its setting. ``status``: the HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def gib(value: int) -> str:
    return f"{value / (1 << 30):.1f} GiB"


def run_bytes(info: dict[str, Any] | None) -> int:
    """The declared bytes of every disk of a run's instance info (``Migration.info``)."""
    total = 0
    for instance in (info or {}).values():
        for disk in ((instance or {}).get("vm") or {}).get("devices", {}).get("disks", []):
            total += int(disk.get("size_bytes") or 0)
    return total


def _unfinished(project_id: str):
    return (Migration.project_id == project_id, Migration.deleted.is_(False),
            Migration.status.not_in([str(s) for s in FINISHED_MIGRATION]))


def active_runs(session, project_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Migration).where(*_unfinished(project_id))) or 0


def bytes_in_flight(session, project_id: str, exclude: str | None = None) -> int:
    """The declared disk bytes of the project's unfinished runs (those whose instances are known)."""
    query = select(Migration.id, Migration.info).where(*_unfinished(project_id))
    return sum(run_bytes(info) for run_id, info in session.execute(query) if run_id != exclude)


def check_new_run(session, settings: Settings, project_id: str) -> None:
    """Raise ``QuotaExceeded`` (409) when the project may not start one more run now."""
    limit = settings.max_active_runs_per_project
    if limit and (count := active_runs(session, project_id)) >= limit:
        raise QuotaExceeded(
            f"project {project_id} has {count} unfinished runs, the most it may have at once "
            f"(max_active_runs_per_project={limit}); wait for some to finish"
        )
    limit = settings.max_bytes_in_flight_per_project
    if limit and (used := bytes_in_flight(session, project_id)) >= limit:
        raise QuotaExceeded(
            f"project {project_id} already moves {gib(used)} of disks, its limit "
            f"(max_bytes_in_flight_per_project={limit}); wait for some runs to finish"
        )


def check_disks(settings: Settings, instance: str, disks: list[dict[str, Any]]) -> None:
    """Raise ``QuotaExceeded`` (413) when a disk declares more than ``max_disk_bytes``."""
    cap = settings.max_disk_bytes
    for disk in disks:
        size = int(disk.get("size_bytes") or 0)
        if cap and size > cap:
            raise QuotaExceeded(
                f"instance {instance!r} disk {disk.get('id')!r} declares {gib(size)}, over the per-disk "
                f"cap of {gib(cap)} (max_disk_bytes={cap})", 413,
            )


def check_planned(session, settings: Settings, migration: Migration) -> None:
    """Raise ``QuotaExceeded`` when the run's declared bytes would take its project over its limit."""
    limit = settings.max_bytes_in_flight_per_project
    if not limit:
        return
    mine = run_bytes(migration.info)
    others = bytes_in_flight(session, migration.project_id, exclude=migration.id)
    if mine + others > limit:
        raise QuotaExceeded(
            f"this run's disks ({gib(mine)}) and the project's other unfinished runs ({gib(others)}) pass "
            f"its limit of {gib(limit)} (max_bytes_in_flight_per_project={limit})"
        )
