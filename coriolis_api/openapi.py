"""What the OpenAPI document adds to flask-smorest's: error responses, path parameter shapes, timestamps.

One apispec plugin, so that every resource (the ones to come too) is documented the same way:

* the error responses a ``/v1`` operation can answer, in the ``Error`` format, instead of
  flask-smorest's 422 (the API answers validation errors with 400);
* the shapes of path parameters, as the views check them (a malformed id is a 404);
* timestamps as the API writes them: ISO 8601 in UTC, without an offset, as upstream Coriolis.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from coriolis_api.context import PROJECT_RE
from coriolis_api.resources.common import MAX_INSTANCE_ID

TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$"
UUID_SCHEMA = {"type": "string", "format": "uuid"}
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "project_id": {"type": "string", "pattern": PROJECT_RE.pattern},
    "instance_id": {
        "type": "string", "minLength": 1, "maxLength": MAX_INSTANCE_ID, "pattern": r"^[^\x00-\x1f\x7f]+$",
    },
    "provider_type": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,62}$"},
    "kind": {"type": "string", "enum": ["connection", "source", "destination"]},
}
ERROR_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "REQUEST_ENTITY_TOO_LARGE",
}


def path_schema(name: str) -> dict[str, Any] | None:
    """The schema of a path parameter: named ones, else ``*_id`` are UUIDs."""
    if name in PATH_SCHEMAS:
        return dict(PATH_SCHEMAS[name])
    if name.endswith("_id"):
        return dict(UUID_SCHEMA)
    return None


def error_codes(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation documents besides ``default`` (500, 503, 504)."""
    codes = [400, 401, 403, 404]
    on_record = path.rstrip("/").endswith("}") or "/actions" in path or path.endswith("/action")
    if method in ("put", "delete") or (method == "post" and on_record):
        codes.append(409)
    if "requestBody" in operation or method in ("post", "put", "patch"):
        codes.append(413)
    return codes


class CoriolisDocs(BasePlugin):
    """The apispec plugin that documents the API's own conventions."""

    def init_spec(self, spec) -> None:
        for plugin in spec.plugins:
            if isinstance(plugin, MarshmallowPlugin):
                plugin.converter.add_attribute_function(timestamp_property)

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        for parameter in parameters or []:
            if isinstance(parameter, dict) and parameter.get("in") == "path":
                schema = path_schema(parameter["name"])
                if schema:
                    parameter["schema"] = schema
        return None

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        if not path or not path.startswith("/v1/"):
            return
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for code in (422, "422"):
                responses.pop(code, None)
            for code in error_codes(method, path, operation):
                if code not in responses and str(code) not in responses:
                    responses[code] = ERROR_NAMES[code]


def timestamp_property(self, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: naive ``DateTime`` fields are UTC timestamps without offset."""
    if type(field) is fields.DateTime and field.format in (None, "iso", "iso8601"):
        ret.pop("format", None)
        return {
            "pattern": TIMESTAMP_PATTERN,
            "description": " ".join(filter(None, (field.metadata.get("description"), "(UTC, ISO 8601)"))),
        }
    return {}
