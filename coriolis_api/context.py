"""The request context: who is calling and for which project (noauth: trusted headers)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import g, request
from flask_smorest import abort

PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


@dataclass(frozen=True)
class RequestContext:
    project_id: str
    user_id: str
    is_admin: bool = False


def current(project_id: str) -> RequestContext:
    """The caller's context for ``project_id`` (validated), set by the auth strategy."""
    if not PROJECT_RE.match(project_id):
        abort(404, message="project not found")
    ctx = getattr(g, "coriolis_context", None)
    if ctx is None:
        user = request.headers.get("X-User-Id", "noauth")[:255]
        ctx = RequestContext(project_id=project_id, user_id=user, is_admin=True)
        g.coriolis_context = ctx
    return RequestContext(project_id, ctx.user_id, ctx.is_admin)
