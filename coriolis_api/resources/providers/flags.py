"""Upstream Coriolis' provider type flags (integers) beside our words, and the schema kinds they name.

The clients list abilities as the integer constants of upstream's ``coriolis/constants.py`` and ask for
a schema by number (``/providers/<p>/schemas/16``); our words (``connection``, ``source``,
``destination``) are served too.
"""

from __future__ import annotations

from collections.abc import Callable

from providers.registry import ProviderSpec, made_class

IMPORT = 1
EXPORT = 2
TRANSFER_IMPORT = 4
TRANSFER_EXPORT = 8
ENDPOINT = 16
ENDPOINT_INSTANCES = 32
OS_MORPHING = 64
ENDPOINT_NETWORKS = 128
DESTINATION_ENDPOINT_OPTIONS = 512
VALIDATE_MIGRATION_EXPORT = 2048
VALIDATE_TRANSFER_EXPORT = 4096
VALIDATE_MIGRATION_IMPORT = 8192
VALIDATE_TRANSFER_IMPORT = 16384
ENDPOINT_STORAGE = 32768
SOURCE_TRANSFER_UPDATE = 65536
SOURCE_ENDPOINT_OPTIONS = 131072
DESTINATION_TRANSFER_UPDATE = 262144

SOURCE_FLAGS = (
    EXPORT, TRANSFER_EXPORT, ENDPOINT_INSTANCES, VALIDATE_MIGRATION_EXPORT, VALIDATE_TRANSFER_EXPORT,
    SOURCE_TRANSFER_UPDATE, SOURCE_ENDPOINT_OPTIONS,
)
DESTINATION_FLAGS = (
    IMPORT, TRANSFER_IMPORT, OS_MORPHING, DESTINATION_ENDPOINT_OPTIONS, VALIDATE_MIGRATION_IMPORT,
    VALIDATE_TRANSFER_IMPORT, DESTINATION_TRANSFER_UPDATE,
)
INVENTORY_FLAGS = (ENDPOINT_NETWORKS, ENDPOINT_STORAGE)

# schema kind (word or upstream number) -> (our word, ProviderSpec attribute, response key)
KINDS: dict[str, tuple[str, str, str]] = {
    "connection": ("connection", "connection_schema", "connection_info_schema"),
    "source": ("source", "source_environment_schema", "source_environment_schema"),
    "destination": ("destination", "destination_environment_schema", "destination_environment_schema"),
}
KIND_NUMBERS = {
    str(ENDPOINT): "connection",
    str(TRANSFER_EXPORT): "source",
    str(EXPORT): "source",
    str(SOURCE_ENDPOINT_OPTIONS): "source",
    str(TRANSFER_IMPORT): "destination",
    str(IMPORT): "destination",
    str(DESTINATION_ENDPOINT_OPTIONS): "destination",
}


def kind_of(text: str) -> str | None:
    """The schema kind a path segment names (a word or an upstream number), or None."""
    return text if text in KINDS else KIND_NUMBERS.get(text)


def lists_inventory(factory: Callable | None) -> bool:
    """Whether the class a provider factory returns (its return annotation) lists networks and storage."""
    made = made_class(factory)
    return made is not None and all(hasattr(made, m) for m in ("list_networks", "list_storage"))


def provider_flags(spec: ProviderSpec) -> list[int]:
    """The upstream integer flags of what ``spec`` can do here, ascending."""
    flags = {ENDPOINT}
    if spec.exporter:
        flags.update(SOURCE_FLAGS)
    if spec.importer:
        flags.update(DESTINATION_FLAGS)
    if lists_inventory(spec.exporter) or lists_inventory(spec.importer):
        flags.update(INVENTORY_FLAGS)
    return sorted(flags)
