"""The provider registry: every provider is a folder registered in one entry-point group."""

from __future__ import annotations

import functools
import logging
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from marshmallow import Schema

from providers.types import Exporter, Importer

ENTRY_POINT_GROUP = "coriolis.providers"
ENABLE_STUB_ENV = "CORIOLIS_ENABLE_STUB_PROVIDER"
log = logging.getLogger(__name__)
_stub_enabled: bool | None = None


class EmptySchema(Schema):
    """Options of a provider that takes none."""


@dataclass(frozen=True)
class ProviderSpec:
    """What a provider offers: its schemas and factories for its two roles.

    Args:
        name: the provider type, one lowercase word (``ova``, ``kvm``...).
        description: one line shown by ``GET /providers``.
        connection_schema: validates ``connection_info``.
        source_environment_schema: validates ``source_environment`` when used as origin.
        destination_environment_schema: validates ``target_environment`` as destination.
        exporter: ``exporter(connection_info, source_environment)`` when it can be a source.
        importer: ``importer(connection_info, target_environment)`` when it can be a destination.
        is_stub: a synthetic provider for tests and load tests: registered only when the operator
            enables it (setting ``enable_stub_provider``).
        local_path_fields: connection info fields naming host directories, confined to the roots
            the operator allows for this type (``providers/localpaths.py``).
        local_path_default: the one of those fields the worker sets to the first allowed root when
            the connection info leaves it out.
    """

    name: str
    description: str
    connection_schema: type[Schema] = EmptySchema
    source_environment_schema: type[Schema] = EmptySchema
    destination_environment_schema: type[Schema] = EmptySchema
    exporter: Callable[[dict[str, Any], dict[str, Any]], Exporter] | None = None
    importer: Callable[[dict[str, Any], dict[str, Any]], Importer] | None = None
    is_stub: bool = False
    local_path_fields: tuple[str, ...] = ()
    local_path_default: str | None = None

    @property
    def abilities(self) -> list[str]:
        out = []
        if self.exporter:
            out.append("source")
        if self.importer:
            out.append("destination")
        return out


def made_class(factory: Callable | None) -> type | None:
    """The class a provider factory returns, read from its return annotation (what the API checks abilities on
    without making a provider); None when there is no factory or the annotation names no class."""
    if factory is None:
        return None
    try:
        made = typing.get_type_hints(factory).get("return")
    except Exception:  # an annotation that does not resolve: claim nothing
        return None
    return made if isinstance(made, type) else None


class UnknownProvider(KeyError):
    """No provider is registered under that type."""


@functools.cache
def all_providers() -> dict[str, ProviderSpec]:
    """Every registered provider, by type name."""
    found: dict[str, ProviderSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = ep.load()
        except Exception:  # one broken provider must not take the others down
            log.exception("provider %s failed to load", ep.name)
            continue
        found[spec.name] = spec
    return dict(sorted(found.items()))


@functools.cache
def provider_aliases() -> dict[str, str]:
    """Entry-point names that register a provider under a second name (``vmware_vsphere`` → ``vsphere``)."""
    known = all_providers()
    aliases: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in known:
            continue
        try:
            spec = ep.load()
        except Exception:  # already logged by all_providers
            continue
        if getattr(spec, "name", None) in known:
            aliases[ep.name] = spec.name
    return aliases


def configure(enable_stub: bool) -> None:
    """Whether stub providers are registered (the API and the workers call it with their settings)."""
    global _stub_enabled
    _stub_enabled = bool(enable_stub)


def stub_enabled() -> bool:
    """The configured choice, or the one ``CORIOLIS_ENABLE_STUB_PROVIDER`` describes (default: no)."""
    if _stub_enabled is not None:
        return _stub_enabled
    return os.environ.get(ENABLE_STUB_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def enabled_providers() -> dict[str, ProviderSpec]:
    """The providers in use: every registered one, stubs only when enabled."""
    keep_stubs = stub_enabled()
    return {name: spec for name, spec in all_providers().items() if keep_stubs or not spec.is_stub}


def get_provider(name: str) -> ProviderSpec:
    """The provider enabled as ``name`` (or under that alias); raises ``UnknownProvider``."""
    try:
        return enabled_providers()[provider_aliases().get(name, name)]
    except KeyError:
        raise UnknownProvider(name) from None
