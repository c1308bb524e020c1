"""The request context: who is calling, for which project, and whether the policy lets them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import g
from flask_smorest import abort
from sqlalchemy import true

from coriolis_api.auth import policy

PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


@dataclass(frozen=True)
class RequestContext:
    """The caller as views and services see it.

    ``project_id`` is the URL's project: what the caller creates belongs to it and what they
    look up must belong to it. ``auth_token`` is the caller's own token, kept for this request
    only (an OpenStack destination may reuse it); it must never be stored or shown.
    """

    project_id: str
    user_id: str
    is_admin: bool = False
    roles: tuple[str, ...] = ()
    all_tenants: bool = False
    auth_token: str | None = field(default=None, repr=False, compare=False)

    def project_filter(self, column: Any) -> Any:
        """The SQL condition a listing applies to ``column`` (every project with ``all_tenants``)."""
        return true() if self.all_tenants else column == self.project_id


def current(project_id: str, action: str) -> RequestContext:
    """The caller's context for ``project_id``, once the policy allows ``action`` (else 403).

    Args:
        project_id: the project named in the URL (malformed: 404).
        action: the policy rule to check, ``<resource>:<verb>`` (``migration:create``...).
    """
    if not PROJECT_RE.match(project_id):
        abort(404, message="project not found")
    identity = g.get("coriolis_identity")
    if identity is None:  # every /v1 request passes through the auth hook; this is not one
        abort(401, message="authentication required")
    if not policy().allows(action, identity.credentials(), {"project_id": project_id}):
        abort(403, message=f"policy does not allow {action}")
    return RequestContext(
        project_id=project_id,
        user_id=identity.user_id,
        is_admin=bool(g.get("coriolis_is_admin")),
        roles=identity.roles,
        all_tenants=bool(g.get("coriolis_all_tenants")),
        auth_token=identity.auth_token,
    )
