"""Views of ``/v1/<project_id>/providers``: what each provider can do, and its option schemas."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from coriolis_api.context import current
from providers.registry import UnknownProvider, enabled_providers, get_provider

blp = Blueprint("providers", __name__, url_prefix="/v1/<project_id>/providers", description="Providers")

KINDS = {
    "connection": "connection_schema",
    "source": "source_environment_schema",
    "destination": "destination_environment_schema",
}


class ProvidersResponse(Schema):
    providers = fields.Dict()


class SchemasResponse(Schema):
    schemas = fields.Dict()


def json_schema(schema_cls) -> dict:
    """A marshmallow schema as JSON schema (through apispec's converter)."""
    plugin = MarshmallowPlugin()
    APISpec("schema", "1", "3.0.3", plugins=[plugin])
    out = plugin.converter.schema2jsonschema(schema_cls)
    out["additionalProperties"] = False
    return out


@blp.route("")
class Providers(MethodView):
    @blp.response(200, ProvidersResponse)
    def get(self, project_id):
        """List provider types and what each can do."""
        current(project_id, "provider:list")
        return {
            "providers": {
                name: {"types": spec.abilities, "description": spec.description, "stub": spec.is_stub}
                for name, spec in enabled_providers().items()
            }
        }


@blp.route("/<provider_type>/schemas/<kind>")
class ProviderSchemas(MethodView):
    @blp.response(200, SchemasResponse)
    def get(self, project_id, provider_type, kind):
        """The JSON schema of a provider's ``connection``, ``source`` or ``destination`` options."""
        current(project_id, "provider:schemas")
        try:
            spec = get_provider(provider_type)
        except UnknownProvider:
            abort(404, message=f"provider {provider_type!r} not found")
        if kind not in KINDS:
            abort(404, message=f"schema kind {kind!r} not found; use one of {', '.join(KINDS)}")
        if (kind == "source" and not spec.exporter) or (kind == "destination" and not spec.importer):
            abort(404, message=f"provider {provider_type!r} cannot be a {kind}")
        key = {"connection": "connection_info_schema"}.get(kind, f"{kind}_environment_schema")
        return {"schemas": {key: json_schema(getattr(spec, KINDS[kind]))}}
