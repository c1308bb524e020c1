"""Views of ``/v1/<project_id>/endpoints``."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from coriolis_api.context import current
from coriolis_api.resources.common import check_instance_id, provider_for
from coriolis_api.resources.endpoints import options, schemas, service
from coriolis_api.state import db_session, settings

blp = Blueprint("endpoints", __name__, url_prefix="/v1/<project_id>/endpoints", description="Endpoints")


@blp.route("")
class Endpoints(MethodView):
    @blp.arguments(schemas.PageArgs, location="query")
    @blp.response(200, schemas.EndpointListResponse)
    def get(self, args, project_id):
        """List endpoints (paginated)."""
        with db_session() as s:
            rows = service.list_(s, current(project_id, "endpoint:list"), args, settings())
            return {"endpoints": [service.present(e) for e in rows]}

    @blp.arguments(schemas.EndpointCreateSchema)
    @blp.response(201, schemas.EndpointResponse)
    def post(self, body, project_id):
        """Create an endpoint."""
        with db_session() as s:
            ctx = current(project_id, "endpoint:create")
            return {"endpoint": service.present(service.create(s, ctx, body["endpoint"]))}


@blp.route("/<endpoint_id>")
class EndpointById(MethodView):
    @blp.response(200, schemas.EndpointResponse)
    def get(self, project_id, endpoint_id):
        """Show an endpoint (connection info redacted)."""
        with db_session() as s:
            return {"endpoint": service.present(service.get(s, current(project_id, "endpoint:show"), endpoint_id))}

    @blp.arguments(schemas.EndpointUpdateSchema)
    @blp.response(200, schemas.EndpointResponse)
    def put(self, body, project_id, endpoint_id):
        """Change an endpoint's name, description, connection info or regions."""
        with db_session() as s:
            ctx = current(project_id, "endpoint:update")
            return {"endpoint": service.present(service.update(s, ctx, endpoint_id, body["endpoint"]))}

    @blp.response(204)
    def delete(self, project_id, endpoint_id):
        """Delete an endpoint no unfinished migration uses."""
        with db_session() as s:
            service.delete(s, current(project_id, "endpoint:delete"), endpoint_id)


@blp.route("/<endpoint_id>/actions")
class EndpointActions(MethodView):
    @blp.arguments(schemas.EndpointActionSchema)
    @blp.response(200, schemas.ValidationResponse)
    def post(self, body, project_id, endpoint_id):
        """``{"validate-connection": null}``: check the endpoint's connection from a worker."""
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:validate"), endpoint_id)
        from celery.exceptions import TimeoutError as CeleryTimeout

        from coriolis_tasks.app import celery_app

        try:
            answer = celery_app.send_task("coriolis.control.validate_endpoint", args=(endpoint.id,)).get(
                timeout=service.WORKER_TIMEOUT
            )
        except CeleryTimeout:
            answer = {"ok": False, "message": "no worker answered in time"}
        return {"validate_connection": {"valid": answer["ok"], "message": answer.get("message", "")}}


@blp.route("/<endpoint_id>/instances")
class EndpointInstances(MethodView):
    @blp.arguments(schemas.InstanceArgs, location="query")
    @blp.response(200, schemas.InstanceListResponse)
    def get(self, args, project_id, endpoint_id):
        """List the endpoint's instances (``marker``, ``limit``, ``name`` filter)."""
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:list_instances"), endpoint_id)
        return {"instances": service.instances(endpoint, args)}


@blp.route("/<endpoint_id>/networks")
class EndpointNetworks(MethodView):
    @blp.arguments(schemas.InventoryArgs, location="query")
    @blp.response(200, schemas.NetworkListResponse)
    def get(self, args, project_id, endpoint_id):
        """List the endpoint's networks (for network maps); ``env``: provider options as JSON."""
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:list_networks"), endpoint_id)
        return {"networks": service.networks(endpoint, args)}


@blp.route("/<endpoint_id>/storage")
class EndpointStorage(MethodView):
    @blp.arguments(schemas.InventoryArgs, location="query")
    @blp.response(200, schemas.StorageResponse)
    def get(self, args, project_id, endpoint_id):
        """List the endpoint's storage backends (for storage mappings); ``env``: provider options as JSON."""
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:list_storage"), endpoint_id)
        return {"storage": service.storage(endpoint, args)}


@blp.route("/<endpoint_id>/instances/<path:instance_id>")
class EndpointInstance(MethodView):
    @blp.arguments(schemas.InstanceShowArgs, location="query")
    @blp.response(200, schemas.InstanceResponse)
    def get(self, args, project_id, endpoint_id, instance_id):
        """Show one instance of the endpoint, with its devices; its id in URL-safe base64 (as upstream clients
        send it) or literal."""
        check_instance_id(instance_id)
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:show_instance"), endpoint_id)
        return {"instance": service.instance(endpoint, instance_id, args)}


def _options(project_id: str, endpoint_id: str, role: str, args: dict) -> list[dict]:
    with db_session() as s:
        endpoint = service.get(s, current(project_id, f"endpoint:list_{role}_options"), endpoint_id)
    spec = provider_for(endpoint.type, role)
    factory, schema = ((spec.exporter, spec.source_environment_schema) if role == "source"
                       else (spec.importer, spec.destination_environment_schema))
    names = options.names_of(args.get("options") or args.get("option_names"))
    env = service.parse_env(args.get("env"))
    looked_up = []
    if options.looks_options_up(factory):
        looked_up = service.ask_worker("coriolis.control.lookup_options", endpoint.id, role, env, names)
    return options.option_choices(schema, names, looked_up)


@blp.route("/<endpoint_id>/source-options")
class EndpointSourceOptions(MethodView):
    @blp.arguments(schemas.OptionsArgs, location="query")
    @blp.response(200, schemas.SourceOptionsResponse)
    def get(self, args, project_id, endpoint_id):
        """The choices of the provider's source options: its enumerations and what its cloud offers (``?env=``
        the options chosen so far, as JSON or base64 JSON; ``?options=a,b`` or ``?option_names=`` to pick some)."""
        return {"source_options": _options(project_id, endpoint_id, "source", args)}


@blp.route("/<endpoint_id>/destination-options")
class EndpointDestinationOptions(MethodView):
    @blp.arguments(schemas.OptionsArgs, location="query")
    @blp.response(200, schemas.DestinationOptionsResponse)
    def get(self, args, project_id, endpoint_id):
        """The choices of the provider's destination options: its enumerations and what its cloud offers
        (flavors, networks, key pairs...; ``?env=``, ``?options=a,b`` as for source options)."""
        return {"destination_options": _options(project_id, endpoint_id, "destination", args)}


@blp.route("/<endpoint_id>/source-minion-pool-options")
class EndpointSourcePoolOptions(MethodView):
    @blp.arguments(schemas.OptionsArgs, location="query")
    @blp.response(200, schemas.SourcePoolOptionsResponse)
    def get(self, args, project_id, endpoint_id):
        """Minion pool options: always empty (this service has no minion pools)."""
        with db_session() as s:
            service.get(s, current(project_id, "endpoint:list_source_options"), endpoint_id)
        return {"source_minion_pool_options": []}


@blp.route("/<endpoint_id>/destination-minion-pool-options")
class EndpointDestinationPoolOptions(MethodView):
    @blp.arguments(schemas.OptionsArgs, location="query")
    @blp.response(200, schemas.DestinationPoolOptionsResponse)
    def get(self, args, project_id, endpoint_id):
        """Minion pool options: always empty (this service has no minion pools)."""
        with db_session() as s:
            service.get(s, current(project_id, "endpoint:list_destination_options"), endpoint_id)
        return {"destination_minion_pool_options": []}


@blp.route("/<endpoint_id>/inventory")
class EndpointInventory(MethodView):
    @blp.arguments(schemas.InventoryArgs, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args, project_id, endpoint_id):
        """The endpoint's instances as CSV (one line each: id, name, CPUs, memory, OS, power state)."""
        with db_session() as s:
            endpoint = service.get(s, current(project_id, "endpoint:list_instances"), endpoint_id)
        rows = service.instances(endpoint, {})
        return Response(options.inventory_csv(rows), mimetype="text/csv")
