"""Authentication and access rules of the API: ``install(app, settings)`` wires them in."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, request

from coriolis.config import Settings
from coriolis_api.auth import keystone
from coriolis_api.auth.keystone import Identity
from coriolis_api.auth.policy import Policy, PolicyError, load_policy
from coriolis_api.errors import error_response

__all__ = ["Identity", "Policy", "PolicyError", "install", "policy"]

log = logging.getLogger(__name__)

PROTECTED_PREFIX = "/v1"
TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


def policy() -> Policy:
    """The access rules of the current app."""
    return current_app.extensions["coriolis_policy"]


def _all_tenants() -> bool | None:
    """``?all_tenants=`` as a boolean; ``None`` when the value is not one."""
    value = request.args.get("all_tenants")
    if value is None:
        return False
    value = value.strip().lower()
    if value in TRUE_VALUES:
        return True
    return False if value in FALSE_VALUES else None


def _authenticate():
    """Before every ``/v1`` request: who calls (401 without a valid token), and for which project."""
    if request.path != PROTECTED_PREFIX and not request.path.startswith(PROTECTED_PREFIX + "/"):
        return None
    settings: Settings = current_app.config["CORIOLIS_SETTINGS"]
    project = (request.view_args or {}).get("project_id")
    if settings.auth_strategy == "keystone":
        identity = keystone.keystone_identity(request.environ)
        if identity is None:
            # auth_token adds the WWW-Authenticate header to every 401
            return error_response(401, "authentication required: send a valid Keystone token in X-Auth-Token")
    else:
        identity = keystone.noauth_identity(request.environ)
        identity = Identity(identity.user_id, project, identity.roles, identity.auth_token)
    rules = policy()
    creds = identity.credentials()
    is_admin = rules.check_rule("context_is_admin", creds, {"project_id": project})
    if project is not None and project != identity.project_id and not is_admin:
        return error_response(403, f"the token is not scoped to project {project}")
    all_tenants = _all_tenants()
    if all_tenants is None:
        return error_response(400, "invalid request: all_tenants: use 1 or 0")
    if all_tenants and not rules.check_rule("all_tenants", creds, {"project_id": project}):
        return error_response(403, "all_tenants is for administrators")
    g.coriolis_identity = identity
    g.coriolis_is_admin = is_admin
    g.coriolis_all_tenants = all_tenants
    return None


def install(app: Flask, settings: Settings) -> None:
    """Load the access rules and put the auth strategy in front of ``/v1`` (raises ``ValueError``)."""
    app.extensions["coriolis_policy"] = load_policy(settings.policy_file)
    if settings.policy_file:
        log.info("access rules: defaults overlaid by %s", settings.policy_file)
    app.before_request(_authenticate)
    if settings.auth_strategy == "keystone":
        app.wsgi_app = keystone.wrap(app.wsgi_app, settings)
        log.info("auth_strategy keystone: tokens are validated by %s", settings.keystone_auth_url)
