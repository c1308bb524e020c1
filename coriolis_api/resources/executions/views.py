"""Views of ``/v1/<project_id>/transfers/<transfer_id>/executions``."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from coriolis_api.auth import caller_identity
from coriolis_api.context import current
from coriolis_api.resources.executions import schemas
from coriolis_api.resources.migrations import service as runs
from coriolis_api.resources.transfers import service as transfers_service
from coriolis_api.state import db_session, progress_store, settings
from coriolis_tasks import control, pipeline, transfers

blp = Blueprint(
    "executions",
    __name__,
    url_prefix="/v1/<project_id>/transfers/<transfer_id>/executions",
    description="Transfer executions",
)
KIND = transfers.EXECUTION_FAMILY  # executions, and the records of updates and disk deletions


def present(run, with_tasks: bool, live: dict | None = None) -> dict:
    data = runs.present(run, progress_store() if with_tasks else None, with_tasks, live)
    return {**data, "action_id": run.transfer_id, "number": run.number, "type": run.type}


def _get(s, project_id: str, transfer_id: str, execution_id: str, action: str, with_tasks: bool = False):
    ctx = current(project_id, action)
    transfer = transfers_service.get(s, ctx, transfer_id)
    run = runs.get(s, ctx, execution_id, with_tasks=with_tasks, kind=KIND)
    if run.transfer_id != transfer.id:
        abort(404, message=f"execution {execution_id} not found")
    return ctx, run


def _list(args: dict, project_id: str, transfer_id: str, with_tasks: bool) -> dict:
    with db_session() as s:
        ctx = current(project_id, "execution:list")
        transfers_service.get(s, ctx, transfer_id)
        rows = runs.list_(s, ctx, args, settings(), with_tasks, KIND, transfer_id)
        live = runs.live_progress(rows, progress_store()) if with_tasks else {}  # one Redis read per page
        return {"executions": [present(r, with_tasks, live) for r in rows]}


@blp.route("")
class Executions(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.ExecutionListResponse)
    def get(self, args, project_id, transfer_id):
        """List a transfer's executions (paginated)."""
        return _list(args, project_id, transfer_id, with_tasks=False)

    @blp.arguments(schemas.ExecutionCreateSchema)
    @blp.response(202, schemas.ExecutionResponse)
    def post(self, body, project_id, transfer_id):
        """Start an execution: sync the replica disks (only what changed since the last one)."""
        with db_session() as s:
            ctx = current(project_id, "execution:create")
            transfer = transfers_service.get(s, ctx, transfer_id)
            try:
                run = transfers.new_run(s, transfer, pipeline.EXECUTION, ctx.user_id, body["execution"])
            except transfers.RunConflict as exc:
                abort(409, message=str(exc))
            with caller_identity.delegation(s, ctx, run):
                s.commit()
            data = present(run, True)
        control.submit(run.id)
        return {"execution": data}


@blp.route("/detail")
class ExecutionsDetail(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.ExecutionListResponse)
    def get(self, args, project_id, transfer_id):
        """List a transfer's executions with their tasks."""
        return _list(args, project_id, transfer_id, with_tasks=True)


@blp.route("/<execution_id>")
class ExecutionById(MethodView):
    @blp.response(200, schemas.ExecutionResponse)
    def get(self, project_id, transfer_id, execution_id):
        """Show an execution with its tasks and their progress."""
        with db_session() as s:
            _ctx, run = _get(s, project_id, transfer_id, execution_id, "execution:show", with_tasks=True)
            return {"execution": present(run, True)}

    @blp.response(204)
    def delete(self, project_id, transfer_id, execution_id):
        """Delete a finished execution."""
        with db_session() as s:
            ctx, run = _get(s, project_id, transfer_id, execution_id, "execution:delete")
            runs.delete(s, ctx, run.id, KIND)


@blp.route("/<execution_id>/actions")
class ExecutionActions(MethodView):
    @blp.arguments(schemas.ActionSchema)
    @blp.response(204)
    def post(self, body, project_id, transfer_id, execution_id):
        """``{"cancel": null}`` or ``{"cancel": {"force": true}}``."""
        with db_session() as s:
            ctx, run = _get(s, project_id, transfer_id, execution_id, "execution:cancel")
            runs.cancel(s, ctx, run.id, bool((body["cancel"] or {}).get("force")), settings(), KIND)
