"""Resolving a migration's origin and destination into provider objects, inside the worker."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from coriolis import secrets, trusts
from coriolis.config import get_settings
from coriolis.database.encrypted import Undecryptable
from coriolis.database.models import Endpoint, Migration
from coriolis.secrets import masking
from providers import localpaths
from providers.registry import ProviderSpec, get_provider
from providers.types import Exporter, Importer, ProviderError

SECRET_KEYS = secrets.REFERENCE_KEYS


def _check_schema(spec: ProviderSpec | None, info: dict[str, Any], what: str) -> None:
    """A secret's content is first seen here: check it as the API checks inline connection info."""
    if spec is None:
        return
    try:
        spec.connection_schema().load(info)
    except ValidationError as exc:
        # marshmallow names the fields, never their values
        fields = ", ".join(sorted(str(k) for k in exc.messages)) if isinstance(exc.messages, dict) else "?"
        raise ProviderError(f"{what} does not fit the {spec.name} connection info schema (fields: {fields})") from None


def confine_local_paths(spec: ProviderSpec | None, info: dict[str, Any], project_id: str | None) -> dict[str, Any]:
    """``info`` with its host paths checked again, here, before any is opened, and replaced by their
    real paths (``providers/localpaths.py``); a path changed underneath since the API saw it is refused.
    """
    if spec is None or not spec.local_path_fields:
        return info
    roots = localpaths.roots_for(get_settings(), spec.name, project_id)
    try:
        info = localpaths.check_connection(spec.name, spec.local_path_fields, info, roots)
    except localpaths.PathNotAllowed as exc:
        raise ProviderError(f"connection_info.{exc}") from None
    if spec.local_path_default and not info.get(spec.local_path_default) and roots:
        info[spec.local_path_default] = str(roots[0])
    return info


def resolve_connection_info(
    connection_info: dict[str, Any] | None, spec: ProviderSpec | None = None, token: str | None = None,
    project_id: str | None = None,
) -> dict[str, Any]:
    """The usable connection info: inline as stored; a secret reference is fetched here, at run time.
    Host paths of local providers are confined to the operator's roots (``confine_local_paths``).

    Args:
        connection_info: the stored value (decrypted), inline or ``{"secret_ref"|"secret_id": ...}``.
        spec: the provider, whose schema a fetched secret must fit.
        token: the caller's Keystone token, when one is at hand, for Barbican.
        project_id: the project of the endpoint or run (roots may hold ``{project_id}``).

    Raises:
        ProviderError: the value cannot be decrypted, the secret cannot be fetched or used, or a host
            path is not allowed.
    """
    if isinstance(connection_info, Undecryptable):
        raise ProviderError(
            "the stored connection info cannot be decrypted with the configured encryption_keys "
            "(wrong or missing key); set the key that encrypted it, or update the connection info"
        )
    info = dict(connection_info or {})
    if secrets.is_reference(info):
        try:
            info = secrets.resolve(info, get_settings(), token=token)
        except secrets.SecretError as exc:
            raise ProviderError(f"connection_info: {exc}") from None
        _check_schema(spec, info, "the secret's connection info")
    masking.remember(info)
    return confine_local_paths(spec, info, project_id)


def _side(session, migration: Migration, role: str) -> tuple[str, dict[str, Any] | None]:
    endpoint_id = migration.origin_endpoint_id if role == "origin" else migration.destination_endpoint_id
    if endpoint_id:
        endpoint = session.get(Endpoint, endpoint_id)
        if endpoint is None or endpoint.deleted:
            raise ProviderError(f"the {role} endpoint {endpoint_id} no longer exists")
        return endpoint.type, endpoint.connection_info
    side = migration.origin if role == "origin" else migration.destination
    info = migration.origin_connection_info if role == "origin" else migration.destination_connection_info
    return side["type"], trusts.without_trust(info)


def _usable(migration: Migration, info: dict[str, Any] | None, spec: ProviderSpec) -> dict[str, Any]:
    """The resolved connection info; one using the caller's identity becomes the run's trust login."""
    resolved = resolve_connection_info(info, spec, project_id=migration.project_id)
    if not trusts.uses_caller_identity(resolved):
        return resolved
    trust_id = trusts.stored_trust(migration)
    try:
        return trusts.trust_connection(resolved, trust_id, get_settings())
    except trusts.TrustError as exc:
        raise ProviderError(f"connection_info: {exc}") from None


def exporter_for(session, migration: Migration) -> Exporter:
    """The source provider of a migration, connected with its (resolved) connection info."""
    ptype, info = _side(session, migration, "origin")
    spec = get_provider(ptype)
    if spec.exporter is None:
        raise ProviderError(f"provider {ptype!r} cannot be a migration source")
    return spec.exporter(_usable(migration, info, spec), migration.source_environment or {})


def importer_for(session, migration: Migration) -> Importer:
    """The destination provider of a migration."""
    ptype, info = _side(session, migration, "destination")
    spec = get_provider(ptype)
    if spec.importer is None:
        raise ProviderError(f"provider {ptype!r} cannot be a migration destination")
    return spec.importer(_usable(migration, info, spec), migration.destination_environment or {})
