"""Every error in the API's one format: ``{"error": {"code", "message", "fault"}}``."""

from __future__ import annotations

import logging

from flask import jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)

FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflict",
    413: "overLimit",
    414: "overLimit",
    415: "badMediaType",
    422: "badRequest",
    431: "overLimit",
    500: "internalError",
    503: "serviceUnavailable",
    504: "gatewayTimeout",
}


class ErrorBody(Schema):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    message = fields.String(required=True, metadata={"description": "what was wrong, naming each bad field"})
    fault = fields.String(required=True, metadata={"description": "badRequest, itemNotFound, conflict..."})


class ErrorSchema(Schema):
    """The body of every error response (the OpenAPI document's ``Error``)."""

    error = fields.Nested(ErrorBody, required=True)


def _flatten(errors, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        out.append(f"{prefix}: {' '.join(errors)}" if prefix else " ".join(errors))
    elif isinstance(errors, list):
        for n, value in enumerate(errors):
            out.extend(_flatten(value, f"{prefix}[{n}]"))
    else:
        out.append(f"{prefix}: {errors}" if prefix else str(errors))
    return out


def error_response(code: int, message: str, headers: dict | None = None):
    body = {"error": {"code": code, "message": message, "fault": FAULTS.get(code, "error")}}
    response = jsonify(body)
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def http_error(error: HTTPException):
    """Render an HTTP error; validation errors (422 from webargs) become 400 naming each field."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description or error.name
    if "messages" in data:
        fields = []
        for location, errors in data["messages"].items():
            fields.extend(_flatten(errors) if location in ("json", "query") else _flatten(errors, location))
        message = "invalid request: " + "; ".join(fields)
        code = 400
    elif code == 413:
        message = "request body too large"
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return error_response(code, str(message), headers)


def unexpected_error(error: Exception):
    log.exception("unexpected error")
    return error_response(500, "internal error; see the API log")
