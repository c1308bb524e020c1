"""Resolving a migration's origin and destination into provider objects, inside the worker."""

from __future__ import annotations

from typing import Any

from coriolis.database.models import Endpoint, Migration
from providers.registry import get_provider
from providers.types import Exporter, Importer, ProviderError

SECRET_KEYS = ("secret_ref", "secret_id")


def resolve_connection_info(connection_info: dict[str, Any]) -> dict[str, Any]:
    """The usable connection info: inline as is; a secret reference is fetched here, at run time."""
    if any(k in connection_info for k in SECRET_KEYS):
        raise ProviderError(
            "connection_info references a secret, but no secret store (Barbican or Vault) is configured"
        )
    return connection_info


def _side(session, migration: Migration, role: str) -> tuple[str, dict[str, Any]]:
    endpoint_id = migration.origin_endpoint_id if role == "origin" else migration.destination_endpoint_id
    if endpoint_id:
        endpoint = session.get(Endpoint, endpoint_id)
        if endpoint is None or endpoint.deleted:
            raise ProviderError(f"the {role} endpoint {endpoint_id} no longer exists")
        return endpoint.type, endpoint.connection_info or {}
    side = migration.origin if role == "origin" else migration.destination
    return side["type"], side.get("connection_info") or {}


def exporter_for(session, migration: Migration) -> Exporter:
    """The source provider of a migration, connected with its (resolved) connection info."""
    ptype, info = _side(session, migration, "origin")
    spec = get_provider(ptype)
    if spec.exporter is None:
        raise ProviderError(f"provider {ptype!r} cannot be a migration source")
    return spec.exporter(resolve_connection_info(info), migration.source_environment or {})


def importer_for(session, migration: Migration) -> Importer:
    """The destination provider of a migration."""
    ptype, info = _side(session, migration, "destination")
    spec = get_provider(ptype)
    if spec.importer is None:
        raise ProviderError(f"provider {ptype!r} cannot be a migration destination")
    return spec.importer(resolve_connection_info(info), migration.destination_environment or {})
