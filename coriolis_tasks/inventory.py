"""Endpoint calls the API asks a worker to make: validate a connection, list and read instances, list
networks and storage backends, look the choices of environment options up in the cloud."""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import ValidationError

from coriolis.config import get_settings
from coriolis.database.models import Endpoint
from coriolis.database.session import session_scope
from coriolis.secrets import masking
from coriolis_tasks.app import celery_app
from coriolis_tasks.connections import resolve_connection_info
from providers.abilities import NetworkInventory, OptionLookup
from providers.registry import get_provider
from providers.types import InstanceNotFound, ProviderError

log = logging.getLogger(__name__)


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
    unusable: ProviderError | None = None
    for factory, schema in roles:
        try:
            provider = factory(connection, _known_options(schema, env or {}))
        except ProviderError as exc:  # not configured for this role (a kvm endpoint with only a storage_dir)
            unusable = unusable or exc
            continue
        if isinstance(provider, NetworkInventory):
            return provider
    raise unusable or ProviderError(f"provider {ptype!r} cannot list networks and storage backends")


@celery_app.task(name="coriolis.control.validate_endpoint")
def validate_endpoint(endpoint_id: str) -> dict[str, Any]:
    """Check an endpoint's connection in each role its connection info configures.

    Valid when one role can be made and every role made validates: a kvm endpoint with only a storage_dir
    is a destination, not a broken source, and the message says why it cannot be the other role
    (coriolis-web validates every endpoint it saves). Invalid when a configured role fails, or none can be made.
    """
    with session_scope(get_settings().database_url) as s:
        spec = get_provider(s.get(Endpoint, endpoint_id).type)
    roles = [role for role, factory in (("source", spec.exporter), ("destination", spec.importer)) if factory]
    unusable: dict[str, str] = {}

    def call() -> list[str]:
        made = []
        for role in roles:
            try:
                provider = _provider(endpoint_id, role)
            except ProviderError as exc:
                unusable[role] = str(exc)
                continue
            made.append(role)
            provider.validate()
        if not made:
            raise ProviderError("; ".join(f"as a {role}: {why}" for role, why in unusable.items())
                                or f"provider {spec.name!r} can act neither as a source nor a destination")
        return made

    answer = _answer(call)
    if answer["ok"] and unusable:
        others = "; ".join(f"as a {role}: {why}" for role, why in unusable.items())
        answer["message"] = masking.mask(f"valid as a {answer['value'][0]} only ({others})")
    answer["value"] = None
    return answer


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


class _CloudFailed(Exception):
    """A lookup the endpoint's cloud failed (not a ``ProviderError``: ``_answer`` must not make it a 400)."""


@celery_app.task(name="coriolis.control.lookup_options")
def lookup_options(endpoint_id: str, role: str, env: dict[str, Any] | None = None,
                   names: list[str] | None = None) -> dict[str, Any]:
    """The choices the endpoint's cloud offers for the ``role``'s options (``OptionLookup``), ``[]`` when the
    provider cannot look any up. A failure of the cloud is a 502 (the caller's request was fine); an error
    without a provider's message says only its type (an SDK's text could hold a request and its secrets)."""

    def call() -> list[dict[str, Any]]:
        with session_scope(get_settings().database_url) as s:
            endpoint = s.get(Endpoint, endpoint_id)
            ptype, info, project = endpoint.type, endpoint.connection_info, endpoint.project_id
        spec = get_provider(ptype)
        factory, schema = ((spec.exporter, spec.source_environment_schema) if role == "source"
                           else (spec.importer, spec.destination_environment_schema))
        if factory is None:
            raise ProviderError(f"provider {ptype!r} cannot act as a {role}")
        provider = factory(resolve_connection_info(info, spec, project_id=project), _known_options(schema, env or {}))
        if not isinstance(provider, OptionLookup):
            return []
        try:
            return provider.lookup_options(frozenset(names) if names else None)
        except ProviderError as exc:
            raise _CloudFailed(str(exc)) from None
        except Exception as exc:  # an SDK error no client translated: never a 500, never its text
            log.warning("looking up %s options of endpoint %s failed: %s", role, endpoint_id, type(exc).__name__)
            raise _CloudFailed(f"the cloud's answer could not be read ({type(exc).__name__})") from None

    try:
        return _answer(call)
    except _CloudFailed as exc:
        return {"ok": False, "message": masking.mask(f"looking up {role} options failed: {exc}"), "status": 502}
