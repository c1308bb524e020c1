"""Keystone tokens: keystonemiddleware's ``auth_token`` around the app, and who a request is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coriolis.config import Settings

IDENTITY_CONFIRMED = "Confirmed"
GROUP = "keystone_authtoken"  # the oslo.config group auth_token reads


@dataclass(frozen=True)
class Identity:
    """Who is calling, as the auth strategy established it."""

    user_id: str
    project_id: str | None  # the project the token is scoped to (noauth: none)
    roles: tuple[str, ...] = ()
    auth_token: str | None = field(default=None, repr=False)

    def credentials(self) -> dict[str, Any]:
        """What policy checks see of the caller (never the token)."""
        return {"user_id": self.user_id, "project_id": self.project_id, "roles": list(self.roles)}


def _check(settings: Settings) -> None:
    missing = [
        name
        for name in ("keystone_auth_url", "keystone_username", "keystone_password")
        if not getattr(settings, name)
    ]
    if missing:
        raise ValueError(f"auth_strategy keystone needs the settings {', '.join(missing)}")


def service_credentials(settings: Settings) -> dict[str, Any]:
    """The ``password`` auth plugin options the middleware logs in with to validate tokens."""
    return {
        "auth_url": settings.keystone_auth_url,
        "username": settings.keystone_username,
        "password": settings.keystone_password,
        "project_name": settings.keystone_project_name,
        "user_domain_id": settings.keystone_user_domain_id,
        "project_domain_id": settings.keystone_project_domain_id,
    }


def middleware_conf(settings: Settings) -> dict[str, Any]:
    """The ``auth_token`` options of ``settings`` (raises ``ValueError`` on a missing setting)."""
    _check(settings)
    return {
        "auth_type": "password",
        "www_authenticate_uri": settings.keystone_www_authenticate_uri or settings.keystone_auth_url,
        "token_cache_time": settings.keystone_token_cache_time,
        # our app renders the 401 in its own error format (the middleware adds WWW-Authenticate)
        "delay_auth_decision": True,
        "include_service_catalog": False,
    }


def wrap(wsgi_app: Any, settings: Settings) -> Any:
    """``wsgi_app`` behind ``auth_token``, configured from ``settings`` only (no oslo files or argv)."""
    from keystoneauth1 import loading
    from keystonemiddleware import auth_token
    from oslo_config import cfg

    conf = middleware_conf(settings)
    local = cfg.ConfigOpts()
    local([], project="coriolis", default_config_files=[], default_config_dirs=[])
    # the plugin's options live in oslo.config: passed in ``conf`` they would be warned about as unknown
    local.register_opts(loading.get_auth_plugin_conf_options("password"), group=GROUP)
    for name, value in service_credentials(settings).items():
        local.set_override(name, value, group=GROUP)
    conf["oslo_config_config"] = local
    return auth_token.AuthProtocol(wsgi_app, conf)


def keystone_identity(environ: dict[str, Any]) -> Identity | None:
    """The identity ``auth_token`` confirmed for this request, or ``None`` (no or bad token)."""
    if environ.get("HTTP_X_IDENTITY_STATUS") != IDENTITY_CONFIRMED:
        return None
    token_auth = environ.get("keystone.token_auth")
    access = getattr(token_auth, "user", None)
    if access is None:
        return None
    return Identity(
        user_id=str(access.user_id),
        project_id=access.project_id,
        roles=tuple(access.role_names or ()),
        auth_token=environ.get("HTTP_X_AUTH_TOKEN"),
    )


def noauth_identity(environ: dict[str, Any]) -> Identity:
    """noauth trusts the caller: an admin, named by ``X-User-Id`` if given."""
    user = str(environ.get("HTTP_X_USER_ID") or "noauth")[:255]
    return Identity(user_id=user, project_id=None, roles=("admin",), auth_token=environ.get("HTTP_X_AUTH_TOKEN"))
