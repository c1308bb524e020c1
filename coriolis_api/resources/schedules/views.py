"""Views of ``/v1/<project_id>/transfers/<transfer_id>/schedules``."""

from __future__ import annotations

from datetime import UTC

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import or_, select

from coriolis.database.models import Schedule, utcnow
from coriolis_api.context import current
from coriolis_api.pagination import paginate
from coriolis_api.resources.common import check_id
from coriolis_api.resources.schedules import schemas
from coriolis_api.resources.transfers import service as transfers_service
from coriolis_api.state import db_session, settings
from coriolis_tasks.schedules import FIELDS

SORT_KEYS = ("created_at", "updated_at", "id", "expiration_date", "enabled")
blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/v1/<project_id>/transfers/<transfer_id>/schedules",
    description="Transfer schedules",
)


def present(row: Schedule) -> dict:
    data = {c.name: getattr(row, c.name) for c in Schedule.__table__.columns}
    cron = {name: getattr(row, name) for name in FIELDS}
    data["schedule"] = {name: schemas.shown_cron(name, text) for name, text in cron.items() if text is not None}
    return data


def _apply(row: Schedule, body: dict) -> None:
    if "schedule" in body:
        for name in FIELDS:
            setattr(row, name, body["schedule"].get(name))
    for key in ("enabled", "shutdown_instance", "auto_deploy"):
        if key in body:
            setattr(row, key, body[key])
    if "expiration_date" in body:
        when = body["expiration_date"]
        if when is not None and when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        if when is not None and when <= utcnow():
            abort(400, message="expiration_date must be in the future")
        row.expiration_date = when


def _get(s, ctx, transfer_id: str, schedule_id: str) -> Schedule:
    transfer = transfers_service.get(s, ctx, transfer_id)
    check_id(schedule_id, "schedule")
    row = s.get(Schedule, schedule_id)
    if row is None or row.deleted or row.transfer_id != transfer.id:
        abort(404, message=f"schedule {schedule_id} not found")
    return row


@blp.route("")
class Schedules(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.ScheduleListResponse)
    def get(self, args, project_id, transfer_id):
        """List a transfer's schedules."""
        with db_session() as s:
            transfer = transfers_service.get(s, current(project_id, "schedule:list"), transfer_id)
            query = select(Schedule).where(Schedule.transfer_id == transfer.id, Schedule.deleted.is_(False))
            if not args["show_expired"]:
                query = query.where(or_(Schedule.expiration_date.is_(None), Schedule.expiration_date > utcnow()))
            rows = s.scalars(paginate(s, query, Schedule, args, SORT_KEYS, settings().page_limit_max))
            return {"schedules": [present(r) for r in rows]}

    @blp.arguments(schemas.ScheduleBody)
    @blp.response(201, schemas.ScheduleResponse)
    def post(self, body, project_id, transfer_id):
        """Run the transfer's executions on a cron schedule."""
        with db_session() as s:
            transfer = transfers_service.get(s, current(project_id, "schedule:create"), transfer_id)
            row = Schedule(transfer_id=transfer.id, project_id=transfer.project_id)
            _apply(row, body)
            s.add(row)
            s.flush()
            return {"schedule": present(row)}


@blp.route("/<schedule_id>")
class ScheduleById(MethodView):
    @blp.response(200, schemas.ScheduleResponse)
    def get(self, project_id, transfer_id, schedule_id):
        """Show a schedule."""
        with db_session() as s:
            return {"schedule": present(_get(s, current(project_id, "schedule:show"), transfer_id, schedule_id))}

    @blp.arguments(schemas.ScheduleUpdateBody)
    @blp.response(200, schemas.ScheduleResponse)
    def put(self, body, project_id, transfer_id, schedule_id):
        """Change a schedule."""
        with db_session() as s:
            row = _get(s, current(project_id, "schedule:update"), transfer_id, schedule_id)
            _apply(row, body)
            row.updated_at = utcnow()
            return {"schedule": present(row)}

    @blp.response(204)
    def delete(self, project_id, transfer_id, schedule_id):
        """Delete a schedule."""
        with db_session() as s:
            row = _get(s, current(project_id, "schedule:delete"), transfer_id, schedule_id)
            row.deleted, row.deleted_at, row.enabled = True, utcnow(), False
