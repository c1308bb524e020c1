"""Views of ``/v1/<project_id>/providers``: what each provider can do, and its option schemas."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from coriolis_api.context import current
from coriolis_api.resources.providers import flags
from providers.registry import UnknownProvider, enabled_providers, get_provider

blp = Blueprint("providers", __name__, url_prefix="/v1/<project_id>/providers", description="Providers")


class ProvidersResponse(Schema):
    providers = fields.Dict()


class SchemasResponse(Schema):
    schemas = fields.Dict()


def _optional_when_nullable(node):
    """OpenAPI's ``nullable: true`` (which JSON Schema ignores) dropped: a nullable option is served as optional.

    coriolis-web builds its forms from ``type`` read as one word (``"string"``, ``"array"``...) and sends a
    field's ``default`` when the user leaves it empty: ``type: ["string", "null"]`` draws no input at all,
    a ``null`` in an ``enum`` breaks its dropdown. So a nullable option keeps its single type, loses a
    ``null`` default and ``null`` choices, and is left out of ``required``: clients leave it out when unset,
    and the API still takes ``null`` as "not given".
    """
    if isinstance(node, list):
        return [_optional_when_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _optional_when_nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if out.get("default", ...) is None:
            del out["default"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [v for v in out["enum"] if v is not None]
    properties = out.get("properties")
    if isinstance(out.get("required"), list) and isinstance(properties, dict):
        nullable = {name for name, prop in node["properties"].items()
                    if isinstance(prop, dict) and prop.get("nullable") is True}
        out["required"] = [name for name in out["required"] if name not in nullable]
        if not out["required"]:
            del out["required"]
    return out


def json_schema(schema_cls) -> dict:
    """A marshmallow schema as JSON Schema (through apispec's converter; a nullable option as optional)."""
    plugin = MarshmallowPlugin()
    APISpec("schema", "1", "3.0.3", plugins=[plugin])
    out = _optional_when_nullable(plugin.converter.schema2jsonschema(schema_cls))
    out["$schema"] = "http://json-schema.org/draft-07/schema#"
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
                name: {
                    "types": flags.provider_flags(spec),
                    "abilities": spec.abilities,
                    "description": spec.description,
                    "stub": spec.is_stub,
                }
                for name, spec in enabled_providers().items()
            }
        }


@blp.route("/<provider_type>/schemas/<kind>")
class ProviderSchemas(MethodView):
    @blp.response(200, SchemasResponse)
    def get(self, project_id, provider_type, kind):
        """The JSON Schema of a provider's ``connection``, ``source`` or ``destination`` options.

        The kind is a word or upstream's number (16 connection, 8 source, 4 destination). The connection
        schema is wrapped as ``{"oneOf": [schema]}``, the form coriolis-web reads.
        """
        current(project_id, "provider:schemas")
        try:
            spec = get_provider(provider_type)
        except UnknownProvider:
            abort(404, message=f"provider {provider_type!r} not found")
        word = flags.kind_of(kind)
        if word is None:
            abort(404, message=f"schema kind {kind!r} not found; use one of connection (16), source (8), "
                               "destination (4)")
        if (word == "source" and not spec.exporter) or (word == "destination" and not spec.importer):
            abort(404, message=f"provider {provider_type!r} cannot be a {word}")
        _word, attribute, key = flags.KINDS[word]
        schema = json_schema(getattr(spec, attribute))
        if word == "connection":
            schema = {"$schema": schema.pop("$schema"), "oneOf": [schema]}
        return {"schemas": {key: schema}}
