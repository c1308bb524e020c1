"""Endpoint calls the API asks a worker to make: validate a connection, list and read instances."""

from __future__ import annotations

from typing import Any

from coriolis.config import get_settings
from coriolis.database.models import Endpoint
from coriolis.database.session import session_scope
from coriolis.secrets import masking
from coriolis_tasks.app import celery_app
from coriolis_tasks.connections import resolve_connection_info
from providers.registry import get_provider
from providers.types import InstanceNotFound, ProviderError


def _provider(endpoint_id: str, role: str):
    with session_scope(get_settings().database_url) as s:
        endpoint = s.get(Endpoint, endpoint_id)
        ptype, info = endpoint.type, endpoint.connection_info
    spec = get_provider(ptype)
    factory = spec.exporter if role == "source" else spec.importer
    if factory is None:
        raise ProviderError(f"provider {ptype!r} cannot act as a {role}")
    return factory(resolve_connection_info(info, spec), {})


def _answer(call) -> dict[str, Any]:
    try:
        return {"ok": True, "value": call()}
    except InstanceNotFound as exc:
        return {"ok": False, "message": masking.mask(str(exc)), "not_found": True}
    except ProviderError as exc:
        return {"ok": False, "message": masking.mask(str(exc)), "not_found": False}


@celery_app.task(name="coriolis.control.validate_endpoint")
def validate_endpoint(endpoint_id: str) -> dict[str, Any]:
    """Check an endpoint's connection as source (or destination, for destination-only providers)."""
    with session_scope(get_settings().database_url) as s:
        spec = get_provider(s.get(Endpoint, endpoint_id).type)
    role = "source" if spec.exporter else "destination"
    return _answer(lambda: _provider(endpoint_id, role).validate())


@celery_app.task(name="coriolis.control.list_instances")
def list_instances(endpoint_id: str) -> dict[str, Any]:
    return _answer(lambda: [vm.summary() for vm in _provider(endpoint_id, "source").list_instances()])


@celery_app.task(name="coriolis.control.get_instance")
def get_instance(endpoint_id: str, instance: str) -> dict[str, Any]:
    return _answer(lambda: _provider(endpoint_id, "source").get_instance(instance).to_dict())
