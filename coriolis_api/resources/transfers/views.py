"""Views of ``/v1/<project_id>/transfers``."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from coriolis_api.context import current
from coriolis_api.resources.executions import views as executions
from coriolis_api.resources.executions.schemas import ExecutionResponse
from coriolis_api.resources.transfers import schemas, service
from coriolis_api.state import db_session, settings

blp = Blueprint("transfers", __name__, url_prefix="/v1/<project_id>/transfers", description="Transfers")


@blp.route("")
class Transfers(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.TransferListResponse)
    def get(self, args, project_id):
        """List transfers (paginated)."""
        with db_session() as s:
            rows = service.list_(s, current(project_id, "transfer:list"), args, settings())
            return {"transfers": [service.present(s, t) for t in rows]}

    @blp.arguments(schemas.TransferCreateSchema)
    @blp.response(201, schemas.TransferResponse)
    def post(self, body, project_id):
        """Create a transfer (replicate instances; deploy them later)."""
        with db_session() as s:
            transfer = service.create(s, current(project_id, "transfer:create"), body["transfer"])
            return {"transfer": service.present(s, transfer)}


@blp.route("/<transfer_id>")
class TransferById(MethodView):
    @blp.response(200, schemas.TransferResponse)
    def get(self, project_id, transfer_id):
        """Show a transfer with its executions and replica disks."""
        with db_session() as s:
            return {"transfer": service.present(s, service.get(s, current(project_id, "transfer:show"), transfer_id))}

    @blp.arguments(schemas.TransferUpdateSchema)
    @blp.response(200, schemas.TransferUpdateResponse)
    def put(self, body, project_id, transfer_id):
        """Change a transfer's mutable fields (environments and maps merged over the stored ones, scripts,
        notes...); answers with the transfer and, as upstream does, the (completed) update execution."""
        with db_session() as s:
            ctx = current(project_id, "transfer:update")
            transfer, record = service.update(s, ctx, transfer_id, body["transfer"])
            return {"transfer": service.present(s, transfer), "execution": executions.present(record, True)}

    @blp.response(204)
    def delete(self, project_id, transfer_id):
        """Delete a transfer that runs nothing, with its replica disks at the destination."""
        with db_session() as s:
            service.delete(s, current(project_id, "transfer:delete"), transfer_id)


@blp.route("/<transfer_id>/actions")
class TransferActions(MethodView):
    @blp.arguments(schemas.TransferActionSchema)
    @blp.response(200, ExecutionResponse)
    def post(self, body, project_id, transfer_id):
        """``{"delete-disks": null}``: delete the transfer's replica disks at the destination; answers with the
        (completed) execution that did it, as upstream does."""
        with db_session() as s:
            record = service.delete_disks(s, current(project_id, "transfer:delete_disks"), transfer_id)
            return {"execution": executions.present(record, True)}
