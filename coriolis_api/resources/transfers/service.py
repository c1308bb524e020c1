"""Transfer logic the views call: create (validated against providers), list, show, update, delete."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import select

from coriolis.config import Settings
from coriolis.database.models import Endpoint, Migration, ReplicaDisk, Schedule, Transfer, utcnow
from coriolis_api.context import RequestContext
from coriolis_api.documents import instance_info, inventory
from coriolis_api.pagination import paginate
from coriolis_api.resources import user_scripts
from coriolis_api.resources.common import check_id, provider_for, validate_with
from coriolis_api.resources.migrations.schemas import UPSTREAM_DEFAULTS
from coriolis_api.resources.migrations.service import _merge_environment
from coriolis_tasks import pipeline, transfers

SORT_KEYS = ("created_at", "updated_at", "id", "scenario", "notes")


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
    if args.get("status"):
        last = (
            select(Migration.status)
            .where(Migration.transfer_id == Transfer.id, Migration.type == pipeline.EXECUTION,
                   Migration.deleted.is_(False))
            .order_by(Migration.number.desc())
            .limit(1)
            .correlate(Transfer)
            .scalar_subquery()
        )
        query = query.where(last == args["status"])
    return list(session.scalars(paginate(session, query, Transfer, args, SORT_KEYS, settings.page_limit_max)))


MERGED = ("source_environment", "destination_environment", "network_map")
NO_POOL_KEYS = ("origin_minion_pool_id", "destination_minion_pool_id", "instance_osmorphing_minion_pool_mappings")


def _merge_storage(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Upstream's merge: new backend mappings replace those of the same source, disk mappings of the same disk."""
    sources = {m["source"] for m in new.get("backend_mappings") or []}
    disks = {m["disk_id"] for m in new.get("disk_mappings") or []}
    merged = {
        "backend_mappings": [m for m in stored.get("backend_mappings") or [] if m.get("source") not in sources]
        + list(new.get("backend_mappings") or []),
        "disk_mappings": [m for m in stored.get("disk_mappings") or [] if m.get("disk_id") not in disks]
        + list(new.get("disk_mappings") or []),
    }
    default = new.get("default") or stored.get("default")
    if default:
        merged["default"] = default
    return merged


def update(session, ctx: RequestContext, transfer_id: str, body: dict[str, Any]) -> tuple[Transfer, Migration]:
    """Apply a ``PUT``: environments and the network map are merged key by key over the stored ones, storage
    mappings and user scripts as upstream merges them; returns the transfer and the completed update record."""
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "changed")
    scenario = body.pop("scenario", None)
    if scenario is not None and scenario != transfer.scenario:
        abort(400, message=f"a transfer's scenario cannot change (it is {transfer.scenario})")
    for key in NO_POOL_KEYS:
        body.pop(key, None)
    for key in MERGED:
        if key in body:
            stored = {k: v for k, v in (getattr(transfer, key) or {}).items()}
            if key == "destination_environment":
                stored = {k: v for k, v in stored.items() if k not in ("network_map", "storage_mappings")}
            body[key] = {**stored, **body[key]}
    if "storage_mappings" in body:
        body["storage_mappings"] = _merge_storage(transfer.storage_mappings or {}, body["storage_mappings"])
    if "user_scripts" in body:
        body["user_scripts"] = user_scripts.merge(transfer.user_scripts, body["user_scripts"])
    for key, value in body.items():
        setattr(transfer, key, value)
    if "destination_environment" in body:
        # the maps are copied into it again from the transfer's own fields
        transfer.destination_environment = {
            k: v for k, v in transfer.destination_environment.items() if k not in ("network_map", "storage_mappings")
        }
    _validate_environments(session, transfer)
    transfer.updated_at = utcnow()
    return transfer, transfers.record_action(session, transfer, transfers.TRANSFER_UPDATE, ctx.user_id)


def _refuse_while_running(session, transfer: Transfer, what: str) -> None:
    running = transfers.active_run(session, transfer.id)
    if running is not None:
        abort(409, message=f"transfer cannot be {what} while {running.type.replace('_', ' ')} {running.id} runs")


def delete(session, ctx: RequestContext, transfer_id: str) -> None:
    """Delete a transfer that runs nothing; its replica disks at the destination are deleted with it
    (as upstream does)."""
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "deleted")
    if session.scalars(select(ReplicaDisk.id).where(ReplicaDisk.transfer_id == transfer.id)).first():
        transfers.delete_replicas(session, transfer)
    for schedule in session.scalars(select(Schedule).where(Schedule.transfer_id == transfer.id)):
        schedule.deleted, schedule.enabled = True, False
    transfer.deleted = True
    transfer.deleted_at = utcnow()


def delete_disks(session, ctx: RequestContext, transfer_id: str) -> Migration:
    """Delete the replica disks at the destination; returns the completed record of it (an execution)."""
    transfer = get(session, ctx, transfer_id)
    _refuse_while_running(session, transfer, "emptied")
    transfers.delete_replicas(session, transfer)
    return transfers.record_action(session, transfer, transfers.DISKS_DELETE, ctx.user_id)


def present(session, transfer: Transfer) -> dict[str, Any]:
    data = {c.name: getattr(transfer, c.name) for c in Transfer.__table__.columns}
    data["storage_mappings"] = inventory.storage_mappings(transfer.storage_mappings)
    runs = session.scalars(
        select(Migration)
        .where(Migration.transfer_id == transfer.id, Migration.type.in_(transfers.EXECUTION_FAMILY),
               Migration.deleted.is_(False))
        .order_by(Migration.number)
    ).all()
    data["executions"] = [
        {"id": r.id, "action_id": r.transfer_id, "number": r.number, "type": r.type, "status": r.status,
         "created_at": r.created_at, "updated_at": r.updated_at}
        for r in runs
    ]
    data["last_execution_status"] = runs[-1].status if runs else None
    data.update(UPSTREAM_DEFAULTS, base_id=transfer.id, transfer_result=None, scenario_type=transfer.scenario)
    disks = session.scalars(select(ReplicaDisk).where(ReplicaDisk.transfer_id == transfer.id)).all()
    volumes: dict[str, list[dict[str, Any]]] = {}
    for d in disks:
        volumes.setdefault(d.instance, []).append(
            {"disk_id": d.disk_id, "size_bytes": d.size_bytes, "generation": d.generation})
    data["info"] = instance_info.run_info(transfer.info, volumes)
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
