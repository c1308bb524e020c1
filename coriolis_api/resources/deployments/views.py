"""Views of ``/v1/<project_id>/deployments``: instances created from a transfer's replica disks."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from coriolis.database.models import Migration, Transfer
from coriolis.statuses import MigrationStatus
from coriolis_api.auth import caller_identity
from coriolis_api.context import current
from coriolis_api.resources.deployments import schemas
from coriolis_api.resources.endpoints.service import ask_worker
from coriolis_api.resources.migrations import service as runs
from coriolis_api.resources.transfers import service as transfers_service
from coriolis_api.state import db_session, progress_store, settings
from coriolis_tasks import control, pipeline, transfers

blp = Blueprint("deployments", __name__, url_prefix="/v1/<project_id>/deployments", description="Deployments")
KIND = pipeline.DEPLOYMENT
NOT_OPTIONS = ("transfer_id", "force", "instance_osmorphing_minion_pool_mappings")


def present(s, run, with_tasks: bool) -> dict:
    data = runs.present(run, progress_store() if with_tasks else None, with_tasks)
    options = run.options or {}
    transfer = s.get(Transfer, run.transfer_id)
    return {
        **data,
        "type": "deployment",
        "transfer_id": run.transfer_id,
        "number": run.number,
        "transfer_scenario_type": transfer.scenario if transfer else None,
        "clone_disks": options.get("clone_disks", True),
        "test_deployment": bool(options.get("test_deployment")),
    }


@blp.route("")
class Deployments(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.DeploymentListResponse)
    def get(self, args, project_id):
        """List deployments (paginated)."""
        with db_session() as s:
            rows = runs.list_(s, current(project_id, "deployment:list"), args, settings(), False, KIND)
            # one query loads every transfer of the page (held here: the session keeps weak references),
            # so that present's session.get finds each in the session
            ids = {r.transfer_id for r in rows if r.transfer_id}
            loaded = s.scalars(select(Transfer).where(Transfer.id.in_(ids))).all() if ids else []
            data = [present(s, r, False) for r in rows]
            del loaded
            return {"deployments": data}

    @blp.arguments(schemas.DeploymentCreateSchema)
    @blp.response(202, schemas.DeploymentResponse)
    def post(self, body, project_id):
        """Deploy a transfer's instances from their replica disks (needs a completed execution unless force)."""
        body = body["deployment"]
        with db_session() as s:
            ctx = current(project_id, "deployment:create")
            transfer = transfers_service.get(s, ctx, str(body["transfer_id"]))
            last = s.scalars(
                select(Migration)
                .where(
                    Migration.transfer_id == transfer.id,
                    Migration.type == pipeline.EXECUTION,
                    Migration.deleted.is_(False),
                )
                .order_by(Migration.number.desc())
            ).first()
            if not body["force"] and (last is None or last.status != MigrationStatus.COMPLETED):
                state = "has no execution" if last is None else f"last execution is {last.status}"
                abort(409, message=f"transfer {state}; run an execution first (or force)")
            options = {k: v for k, v in body.items() if k not in NOT_OPTIONS and v is not None}
            try:
                run = transfers.new_run(s, transfer, KIND, ctx.user_id, options)
            except transfers.RunConflict as exc:
                abort(409, message=str(exc))
            with caller_identity.delegation(s, ctx, run):
                s.commit()
            data = present(s, run, True)
        control.submit(run.id)
        return {"deployment": data}


@blp.route("/<deployment_id>")
class DeploymentById(MethodView):
    @blp.response(200, schemas.DeploymentResponse)
    def get(self, project_id, deployment_id):
        """Show a deployment with its tasks."""
        with db_session() as s:
            run = runs.get(s, current(project_id, "deployment:show"), deployment_id, kind=KIND)
            return {"deployment": present(s, run, True)}

    @blp.response(204)
    def delete(self, project_id, deployment_id):
        """Delete a finished deployment; a test deployment's instance is removed with it."""
        with db_session() as s:
            ctx = current(project_id, "deployment:delete")
            run = runs.get(s, ctx, deployment_id, with_tasks=False, kind=KIND)
            test = bool((run.options or {}).get("test_deployment"))
            if test and run.status in (MigrationStatus.COMPLETED,):
                ask_worker("coriolis.control.remove_instances", run.id)
            runs.delete(s, ctx, deployment_id, KIND)


@blp.route("/<deployment_id>/actions")
class DeploymentActions(MethodView):
    @blp.arguments(schemas.ActionSchema)
    @blp.response(204)
    def post(self, body, project_id, deployment_id):
        """``{"cancel": null}`` or ``{"cancel": {"force": true}}``."""
        with db_session() as s:
            ctx = current(project_id, "deployment:cancel")
            runs.cancel(s, ctx, deployment_id, bool((body["cancel"] or {}).get("force")), settings(), KIND)
