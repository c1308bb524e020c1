"""Transfer schedules: cron matching, and the beat task that fires due schedules exactly once."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, update

from coriolis.config import get_settings
from coriolis.database.models import Schedule, Transfer, utcnow
from coriolis.database.session import session_scope
from coriolis_tasks import control, pipeline, transfers
from coriolis_tasks.app import celery_app

log = logging.getLogger(__name__)
FIELDS = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}


class CronError(ValueError):
    """A cron field that does not parse."""


def parse_field(name: str, text: str | None) -> frozenset[int] | None:
    """The values a cron field allows (None: any). Accepts ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, lists."""
    if text is None or text.strip() == "*":
        return None
    low, high = FIELDS[name]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.strip().partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                start, end = (int(x) for x in base.split("-", 1))
            else:
                start = end = int(base)
        except ValueError:
            raise CronError(f"{name}: {text!r} is not a cron field") from None
        if step < 1 or not (low <= start <= end <= high):
            raise CronError(f"{name}: {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    if name == "dow" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


def matches(schedule: Schedule, when: datetime) -> bool:
    """Whether the schedule fires in the minute ``when`` (cron semantics: dom OR dow when both are set)."""
    allowed = {name: parse_field(name, getattr(schedule, name)) for name in FIELDS}
    actual = {
        "minute": when.minute,
        "hour": when.hour,
        "dom": when.day,
        "month": when.month,
        "dow": (when.weekday() + 1) % 7,
    }

    def ok(name: str) -> bool:
        return allowed[name] is None or actual[name] in allowed[name]

    if not (ok("minute") and ok("hour") and ok("month")):
        return False
    if allowed["dom"] is not None and allowed["dow"] is not None:
        return ok("dom") or ok("dow")
    return ok("dom") and ok("dow")


def fire_due(now: datetime | None = None) -> list[str]:
    """Start an execution for every schedule due in this minute; return the execution ids.

    Each firing is claimed with a conditional update of ``last_fired_for``, so any number of
    beat processes (or repeated calls) fire a schedule once per minute at most.
    """
    settings = get_settings()
    minute = (now or utcnow()).replace(second=0, microsecond=0)
    started: list[str] = []
    with session_scope(settings.database_url) as s:
        due = s.scalars(
            select(Schedule).where(
                Schedule.enabled.is_(True),
                Schedule.deleted.is_(False),
                or_(Schedule.expiration_date.is_(None), Schedule.expiration_date > minute),
            )
        ).all()
        candidates = [(d.id, d.transfer_id, d.shutdown_instance, d.auto_deploy) for d in due if matches(d, minute)]
    for schedule_id, transfer_id, shutdown, auto_deploy in candidates:
        with session_scope(settings.database_url) as s:
            claimed = s.execute(
                update(Schedule)
                .where(
                    Schedule.id == schedule_id, or_(Schedule.last_fired_for.is_(None), Schedule.last_fired_for < minute)
                )
                .values(last_fired_for=minute)
            ).rowcount
            if not claimed:
                continue
            transfer = s.get(Transfer, transfer_id)
            if transfer is None or transfer.deleted:
                continue
            try:
                run = transfers.new_run(
                    s,
                    transfer,
                    pipeline.EXECUTION,
                    transfer.user_id,
                    {"shutdown_instances": shutdown, "auto_deploy": auto_deploy, "schedule_id": schedule_id},
                )
            except transfers.RunConflict as exc:
                log.warning("schedule %s skipped: %s", schedule_id, exc)
                continue
            started.append(run.id)
    for run_id in started:
        control.submit(run_id)
    return started


@celery_app.task(name="coriolis.control.run_schedules", ignore_result=True)
def run_schedules() -> list[str]:
    """The beat entry: fire what is due now."""
    return fire_due()
