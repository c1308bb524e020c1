"""Views of ``/v1/<project_id>/services`` and ``/diagnostics`` (admins only by default)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from coriolis_api.context import current
from coriolis_api.resources.services import nodes
from coriolis_api.state import db_session, settings

blp = Blueprint("services", __name__, url_prefix="/v1/<project_id>", description="Worker nodes and diagnostics")


class ServiceListResponse(Schema):
    services = fields.List(fields.Dict())


class ServiceResponse(Schema):
    service = fields.Dict()


class DiagnosticsResponse(Schema):
    diagnostics = fields.List(fields.Dict())


@blp.route("/services")
class Services(MethodView):
    @blp.response(200, ServiceListResponse)
    def get(self, project_id):
        """The worker nodes and their queues: ``UP`` when they answer now, ``DOWN`` when they ran tasks before."""
        current(project_id, "service:list")
        with db_session() as s:
            return {"services": nodes.services(s, settings().queue_prefix)}


@blp.route("/services/<service_id>")
class ServiceById(MethodView):
    @blp.response(200, ServiceResponse)
    def get(self, project_id, service_id):
        """One worker node."""
        current(project_id, "service:show")
        with db_session() as s:
            found = [n for n in nodes.services(s, settings().queue_prefix) if n["id"] == service_id]
        if not found:
            abort(404, message=f"service {service_id[:80]} not found")
        return {"service": found[0]}


@blp.route("/diagnostics")
class Diagnostics(MethodView):
    @blp.response(200, DiagnosticsResponse)
    def get(self, project_id):
        """The API host's diagnostics (application, host, addresses, OS, package versions)."""
        current(project_id, "diagnostics:get")
        return {"diagnostics": [nodes.diagnostics()]}
