"""gunicorn settings of ``coriolis api``: what gunicorn answers itself is in the API's JSON error format too.

gunicorn refuses some requests before the application sees them (a request line over
``limit_request_line``: 414; headers over ``limit_request_field_size`` or ``limit_request_fields``:
431; a malformed request line or header: 400) and writes an HTML page. Each worker replaces that
writer with one that sends ``{"error": {"code", "message", "fault"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

FAULTS = {400: "badRequest", 403: "forbidden", 414: "overLimit", 417: "badRequest", 431: "overLimit",
          500: "internalError", 501: "notImplemented"}
MESSAGES = {
    414: "the request URL is too long",
    431: "the request headers are too large (too many, or one too long)",
    500: "internal error; see the API log",
}
MAX_DETAIL = 200


def json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error`` in the API's format (same arguments, same connection handling)."""
    detail = " ".join(str(mesg).split())[:MAX_DETAIL]
    message = MESSAGES.get(status_int) or (f"invalid request: {detail}" if detail else reason)
    body = json.dumps({"error": {"code": status_int, "message": message,
                                 "fault": FAULTS.get(status_int, "error")}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: each worker answers its own refusals in JSON."""
    util.write_error = json_error
