"""Endpoint calls the API asks a worker to make: validate a connection, list and read instances, list
networks and storage backends."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from coriolis.config import get_settings
from coriolis.database.models import Endpoint
from coriolis.database.session import session_scope
from coriolis.secrets import masking
from coriolis_tasks.app import celery_app
from coriolis_tasks.connections import resolve_connection_info
from providers.registry import get_provider
from providers.types import InstanceNotFound, NetworkInventory, ProviderError


def _provider(endpoint_id: str, role: str, env: dict[str, Any] | None = None):
    """The endpoint's provider in ``role``, with the options of ``env`` that role knows (the rest ignored)."""
    with session_scope(get_settings().database_url) as s:
        endpoint = s.get(Endpoint, endpoint_id)
        ptype, info, project = endpoint.type, endpoint.connection_info, endpoint.project_id
    spec = get_provider(ptype)
    factory = spec.exporter if role == "source" else spec.importer
    if factory is None:
        raise ProviderError(f"provider {ptype!r} cannot act as a {role}")
    schema = spec.source_environment_schema if role == "source" else spec.destination_environment_schema
    return factory(resolve_connection_info(info, spec, project_id=project), _known_options(schema, env or {}))


def _answer(call) -> dict[str, Any]:
    try:
        return {"ok": True, "value": call()}
    except InstanceNotFound as exc:
        return {"ok": False, "message": masking.mask(str(exc)), "not_found": True}
    except ProviderError as exc:
        return {"ok": False, "message": masking.mask(str(exc)), "not_found": False}
    except ValidationError as exc:  # the ?env= options the caller passed
        fields = sorted(exc.messages) if isinstance(exc.messages, dict) else []
        return {"ok": False, "message": f"invalid environment options: {', '.join(fields) or 'rejected'}",
                "not_found": False}


def _known_options(schema, env: dict[str, Any]) -> dict[str, Any]:
    """The options of ``env`` the role's schema knows: coriolis-web sends its whole environment form (plus a
    ``title``) to list networks and storage, and what the provider does not use must not refuse the call."""
    names = {field.data_key or name for name, field in schema().fields.items()}
    return {k: v for k, v in env.items() if k in names}


def _inventory(endpoint_id: str, env: dict[str, Any] | None) -> NetworkInventory:
    """The endpoint's provider in the first role (source, then destination) that lists networks and storage."""
    with session_scope(get_settings().database_url) as s:
        endpoint = s.get(Endpoint, endpoint_id)
        ptype, info, project = endpoint.type, endpoint.connection_info, endpoint.project_id
    spec = get_provider(ptype)
    roles = [(f, schema) for f, schema in ((spec.exporter, spec.source_environment_schema),
                                           (spec.importer, spec.destination_environment_schema)) if f is not None]
    connection = resolve_connection_info(info, spec, project_id=project) if roles else {}
    for factory, schema in roles:
        provider = factory(connection, _known_options(schema, env or {}))
        if isinstance(provider, NetworkInventory):
            return provider
    raise ProviderError(f"provider {ptype!r} cannot list networks and storage backends")


@celery_app.task(name="coriolis.control.validate_endpoint")
def validate_endpoint(endpoint_id: str) -> dict[str, Any]:
    """Check an endpoint's connection in each role its provider has; valid when one role is.

    A kvm endpoint made for a destination has no ``domains_dir``: it is valid (as a destination), and the
    message says why it cannot be a source.
    """
    with session_scope(get_settings().database_url) as s:
        spec = get_provider(s.get(Endpoint, endpoint_id).type)
    roles = [role for role, factory in (("source", spec.exporter), ("destination", spec.importer)) if factory]
    answers = {role: _answer(lambda role=role: _provider(endpoint_id, role).validate()) for role in roles}
    valid = [role for role in roles if answers[role]["ok"]]
    if len(valid) == len(roles):
        return {"ok": True, "value": None}
    failed = "; ".join(f"as a {role}: {answers[role]['message']}" for role in roles if role not in valid)
    if valid:
        return {"ok": True, "value": None, "message": f"valid as a {valid[0]} only ({failed})"}
    return {"ok": False, "message": failed, "not_found": False}


@celery_app.task(name="coriolis.control.list_instances")
def list_instances(endpoint_id: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    """The source's instances, read with the source options ``env`` (coriolis-web's wizard sends its form)."""
    return _answer(lambda: [vm.summary() for vm in _provider(endpoint_id, "source", env).list_instances()])


@celery_app.task(name="coriolis.control.get_instance")
def get_instance(endpoint_id: str, instance: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    """One instance in full, read with the source options ``env``."""
    return _answer(lambda: _provider(endpoint_id, "source", env).get_instance(instance).to_dict())


@celery_app.task(name="coriolis.control.list_networks")
def list_networks(endpoint_id: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    return _answer(lambda: _inventory(endpoint_id, env).list_networks())


@celery_app.task(name="coriolis.control.list_storage")
def list_storage(endpoint_id: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    return _answer(lambda: _inventory(endpoint_id, env).list_storage())
