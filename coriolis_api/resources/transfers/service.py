"""Transfer logic the views call: create (validated against providers), list, show, update, delete."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import select

from coriolis.config import Settings
from coriolis.database.models import Endpoint, Migration, ReplicaDisk, Schedule, Transfer, utcnow
from coriolis_api.context import RequestContext
from coriolis_api.pagination import paginate
from coriolis_api.resources.common import check_id, provider_for, validate_with
from coriolis_api.resources.migrations.service import _merge_environment
from coriolis_tasks import pipeline, transfers

SORT_KEYS = ("created_at", "id")


def _endpoint(session, ctx: RequestContext, endpoint_id: str, role: str) -> Endpoint:
    endpoint = session.get(Endpoint, endpoint_id)
    if endpoint is None or endpoint.deleted or endpoint.project_id != ctx.project_id:
        abort(400, message=f"{role} endpoint {endpoint_id} not found")
    return endpoint


def _validate_environments(session, transfer: Transfer) -> None:
    source = provider_for(session.get(Endpoint, transfer.origin_endpoint_id).type, "source")
    dest = provider_for(session.get(Endpoint, transfer.destination_endpoint_id).type, "destination")
    validate_with(source.source_environment_schema, transfer.source_environment, "source_environment")
    plain = {k: v for k, v in transfer.destination_environment.items() if k not in ("network_map", "storage_mappings")}
    merged = _merge_environment(dest, plain, transfer.network_map, transfer.storage_mappings)
    validate_with(dest.destination_environment_schema, merged, "destination_environment")
    transfer.destination_environment = merged


def create(session, ctx: RequestContext, body: dict[str, Any]) -> Transfer:
    origin = _endpoint(session, ctx, str(body.pop("origin_endpoint_id")), "origin")
    destination = _endpoint(session, ctx, str(body.pop("destination_endpoint_id")), "destination")
    transfer = Transfer(
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        origin_endpoint_id=origin.id,
        destination_endpoint_id=destination.id,
        info={},
        **body,
    )
    _validate_environments(session, transfer)
    session.add(transfer)
    session.flush()
    return transfer


def get(session, ctx: RequestContext, transfer_id: str) -> Transfer:
    check_id(transfer_id, "transfer")
    transfer = session.get(Transfer, transfer_id)
    if transfer is None or transfer.deleted or transfer.project_id != ctx.project_id:
        abort(404, message=f"transfer {transfer_id} not found")
    return transfer


def list_(session, ctx: RequestContext, args: dict, settings: Settings) -> list[Transfer]:
    query = select(Transfer).where(ctx.project_filter(Transfer.project_id), Transfer.deleted.is_(False))
    return list(session.scalars(paginate(session, query, Transfer, args, SORT_KEYS, settings.page_limit_max)))


def update(session, ctx: RequestContext, transfer_id: str, body: dict[str, Any]) -> Transfer:
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "changed")
    for key, value in body.items():
        setattr(transfer, key, value)
    _validate_environments(session, transfer)
    transfer.updated_at = utcnow()
    return transfer


def _refuse_while_running(session, transfer: Transfer, what: str) -> None:
    running = transfers.active_run(session, transfer.id)
    if running is not None:
        abort(409, message=f"transfer cannot be {what} while {running.type.replace('_', ' ')} {running.id} runs")


def delete(session, ctx: RequestContext, transfer_id: str) -> None:
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "deleted")
    if session.scalars(select(ReplicaDisk.id).where(ReplicaDisk.transfer_id == transfer.id)).first():
        abort(409, message='transfer still has replica disks: delete them first ({"delete-disks": null})')
    for schedule in session.scalars(select(Schedule).where(Schedule.transfer_id == transfer.id)):
        schedule.deleted, schedule.enabled = True, False
    transfer.deleted = True
    transfer.deleted_at = utcnow()


def delete_disks(session, ctx: RequestContext, transfer_id: str) -> int:
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "emptied")
    return transfers.delete_replicas(session, transfer)


def present(session, transfer: Transfer) -> dict[str, Any]:
    data = {c.name: getattr(transfer, c.name) for c in Transfer.__table__.columns}
    data["info"] = {k: v.get("vm", {}) for k, v in (transfer.info or {}).items()}
    runs = session.scalars(
        select(Migration)
        .where(Migration.transfer_id == transfer.id, Migration.type == pipeline.EXECUTION, Migration.deleted.is_(False))
        .order_by(Migration.number)
    ).all()
    data["executions"] = [
        {"id": r.id, "number": r.number, "status": r.status, "created_at": r.created_at} for r in runs
    ]
    data["last_execution_status"] = runs[-1].status if runs else None
    disks = session.scalars(select(ReplicaDisk).where(ReplicaDisk.transfer_id == transfer.id)).all()
    data["replica_disks"] = [
        {
            "instance": d.instance,
            "disk_id": d.disk_id,
            "generation": d.generation,
            "size_bytes": d.size_bytes,
            "checksum": d.checksum,
            "synced_at": d.synced_at.isoformat() if d.synced_at else None,
        }
        for d in disks
    ]
    return data
