"""The application factory: ``create_app(settings)``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask_smorest import Api
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from coriolis import logging_setup
from coriolis.config import Settings, get_settings
from coriolis.database.session import get_engine
from coriolis.progress import get_redis
from coriolis_api import auth, errors, etags, health, limits, metrics, openapi
from coriolis_api.resources import (
    deployments,
    endpoints,
    executions,
    migrations,
    minion_pools,
    providers,
    regions,
    schedules,
    services,
    transfers,
)
from providers import netpolicy, registry

log = logging.getLogger(__name__)


class CoriolisApi(Api):
    """flask-smorest's Api with every error rendered in the Coriolis format."""

    ERROR_SCHEMA = errors.ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        return errors.http_error(error)


def _health(settings: Settings):
    checks = {}
    try:
        with get_engine(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # health reports, it does not fail
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis(settings.redis_url).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), 200 if ok else 503


def _bind_log_context() -> None:
    logging_setup.bind(migration_id=(request.view_args or {}).get("migration_id"))


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API app; ``settings`` default to the environment's."""
    settings = settings or get_settings()
    netpolicy.configure(settings.allow_private_endpoints, settings.endpoint_host_allowlist)
    registry.configure(settings.enable_stub_provider)
    app = Flask("coriolis_api")
    app.config.update(
        CORIOLIS_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="Coriolis",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="/docs",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
    )
    if settings.auth_strategy == "noauth":
        log.warning("auth_strategy is noauth: the API trusts every caller; use keystone in production")
    api = CoriolisApi(app, spec_kwargs={"extra_plugins": [openapi.CoriolisDocs()]})
    for module in (
        migrations, endpoints, providers, transfers, executions, deployments, schedules, minion_pools, services,
        regions,
    ):
        api.register_blueprint(module.blp)
    app.register_error_handler(Exception, errors.unexpected_error)
    auth.install(app, settings)
    app.before_request(limits.check_request_body)
    app.add_url_rule("/health", "health", lambda: _health(settings))
    health.register(app, settings, lambda: _health(settings))
    metrics.register(app, settings)
    etags.install(app)
    app.before_request(_bind_log_context)
    app.teardown_request(lambda _exc: logging_setup.clear())
    app.add_url_rule("/", "root", lambda: jsonify({"versions": [{"id": "v1", "status": "CURRENT"}]}))
    return app
