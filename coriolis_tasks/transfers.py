"""Transfers: starting executions and deployments from a transfer, and what follows their completion."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from coriolis import quotas, trusts
from coriolis.config import Settings, get_settings
from coriolis.database.models import Migration, ReplicaDisk, Transfer, utcnow
from coriolis.database.session import session_scope
from coriolis.statuses import FINISHED_MIGRATION, MigrationStatus
from coriolis_tasks import control, pipeline
from coriolis_tasks.connections import importer_for

log = logging.getLogger(__name__)
COPIED = (
    "origin_endpoint_id",
    "destination_endpoint_id",
    "source_environment",
    "destination_environment",
    "network_map",
    "storage_mappings",
    "instances",
    "notes",
)


# what a transfer's PUT and its delete-disks action leave in its executions list (completed at once,
# no tasks): upstream answers both with an execution, and clients read it
TRANSFER_UPDATE = "transfer_update"
DISKS_DELETE = "transfer_disks_delete"
EXECUTION_FAMILY = (pipeline.EXECUTION, TRANSFER_UPDATE, DISKS_DELETE)


class RunConflict(Exception):
    """The transfer already has an unfinished execution or deployment."""


def active_run(session, transfer_id: str) -> Migration | None:
    return session.scalars(
        select(Migration).where(
            Migration.transfer_id == transfer_id,
            Migration.status.not_in(list(FINISHED_MIGRATION)),
            Migration.deleted.is_(False),
        )
    ).first()


def new_run(session, transfer: Transfer, kind: str, user_id: str, options: dict[str, Any]) -> Migration:
    """Create an execution or a deployment of ``transfer`` (one unfinished run at a time)."""
    running = active_run(session, transfer.id)
    if running is not None:
        raise RunConflict(
            f"transfer has an unfinished {running.type.replace('_', ' ')} {running.id} ({running.status})"
        )
    try:
        quotas.check_new_run(session, get_settings(), transfer.project_id)
    except quotas.QuotaExceeded as exc:
        raise RunConflict(str(exc)) from None
    number = _next_number(session, transfer.id, kind)
    run = Migration(
        project_id=transfer.project_id,
        user_id=user_id,
        status=MigrationStatus.PENDING,
        type=kind,
        transfer_id=transfer.id,
        number=number,
        options={**options, "scenario": transfer.scenario},
        origin={"type": _endpoint_type(session, transfer.origin_endpoint_id)},
        destination={"type": _endpoint_type(session, transfer.destination_endpoint_id)},
        skip_os_morphing=bool(options.get("skip_os_morphing", transfer.skip_os_morphing)),
        shutdown_instances=bool(options.get("shutdown_instances", False)),
        user_scripts=options.get("user_scripts") or transfer.user_scripts,
        **{k: getattr(transfer, k) for k in COPIED if k not in ("user_scripts",)},
    )
    session.add(run)
    session.flush()
    control.add_info_tasks(session, run)
    return run


def _next_number(session, transfer_id: str, kind: str) -> int:
    kinds = EXECUTION_FAMILY if kind in EXECUTION_FAMILY else (kind,)
    last = session.scalar(
        select(func.max(Migration.number)).where(Migration.transfer_id == transfer_id, Migration.type.in_(kinds))
    )
    return (last or 0) + 1


def record_action(session, transfer: Transfer, kind: str, user_id: str) -> Migration:
    """A completed run of ``kind`` (``TRANSFER_UPDATE``, ``DISKS_DELETE``): what the API did at once, on record."""
    now = utcnow()
    run = Migration(
        project_id=transfer.project_id,
        user_id=user_id,
        status=MigrationStatus.COMPLETED,
        type=kind,
        transfer_id=transfer.id,
        number=_next_number(session, transfer.id, kind),
        options={"scenario": transfer.scenario},
        origin={"type": _endpoint_type(session, transfer.origin_endpoint_id)},
        destination={"type": _endpoint_type(session, transfer.destination_endpoint_id)},
        dispatched=True,
        finished_at=now,
        **{k: getattr(transfer, k) for k in COPIED},
        user_scripts=transfer.user_scripts,
    )
    session.add(run)
    session.flush()
    return run


def _endpoint_type(session, endpoint_id: str) -> str:
    from coriolis.database.models import Endpoint

    return session.get(Endpoint, endpoint_id).type


def after_completion(settings: Settings, run_id: str) -> None:
    """Record what a finished run leaves behind and start what it asked for (auto deploy)."""
    with session_scope(settings.database_url) as s:
        run = s.get(Migration, run_id)
        if run.type == pipeline.EXECUTION:
            transfer = s.get(Transfer, run.transfer_id)
            transfer.info = {**(transfer.info or {}), **(run.info or {})}
            if (run.options or {}).get("auto_deploy"):
                deployment = new_run(s, transfer, pipeline.DEPLOYMENT, run.user_id, {"clone_disks": True})
                trusts.hand_over(s, run, deployment)
                deployment_id = deployment.id
            else:
                deployment_id = None
        elif run.type == pipeline.DEPLOYMENT and (run.options or {}).get("clone_disks") is False:
            delete_replicas(s, s.get(Transfer, run.transfer_id))
            deployment_id = None
        else:
            deployment_id = None
    if deployment_id:
        control.submit(deployment_id)


def delete_replicas(session, transfer: Transfer) -> int:
    """Remove the replica disks of every instance of the transfer at the destination."""
    importer = importer_for(session, transfer)
    count = 0
    for instance in transfer.instances:
        if hasattr(importer, "delete_replicas"):
            importer.delete_replicas(transfer.id, instance)
        for row in session.scalars(
            select(ReplicaDisk).where(ReplicaDisk.transfer_id == transfer.id, ReplicaDisk.instance == instance)
        ):
            session.delete(row)
            count += 1
    transfer.info = {}
    return count
