"""Typed errors of the client, each carrying the API's ``{"error": {"code", "message", "fault"}}``."""

from __future__ import annotations

from typing import Any


class CoriolisError(Exception):
    """Base of every client error."""


class ConnectionFailed(CoriolisError):
    """The API could not be reached (after the retries an idempotent call is allowed)."""


class APIError(CoriolisError):
    """An HTTP error answered by the API.

    Attributes:
        code: the HTTP status.
        message: the API's message (names each bad field for a 400).
        fault: the API's fault name (``badRequest``, ``itemNotFound``, ``conflict``...).
        body: the decoded error body, when it was JSON.
    """

    def __init__(self, code: int, message: str, fault: str = "", body: Any = None) -> None:
        super().__init__(f"{code} {fault or 'error'}: {message}")
        self.code = code
        self.message = message
        self.fault = fault
        self.body = body


class BadRequest(APIError):
    """400: the request was malformed or named an unknown field."""


class Unauthorized(APIError):
    """401: no valid token."""


class Forbidden(APIError):
    """403: the token's project or role does not allow the action."""


class NotFound(APIError):
    """404: no such resource in the project."""


class Conflict(APIError):
    """409: the resource's state does not allow the action (e.g. deleting a running migration)."""


class ServerError(APIError):
    """5xx: the API or a worker failed."""


_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
}


def error_from_response(code: int, body: Any, text: str = "") -> APIError:
    """The typed error for an HTTP status and its (decoded) body."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message, fault = str(error.get("message", "")), str(error.get("fault", ""))
    else:
        message, fault = (text or "").strip()[:500] or f"HTTP {code}", ""
    cls = _BY_CODE.get(code) or (ServerError if code >= 500 else APIError)
    return cls(code, message, fault, body)
