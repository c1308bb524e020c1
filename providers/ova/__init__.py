"""The ova source provider: VMs from OVA archives and VMX folders in a local directory."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from providers.ova.options import ConnectionSchema, SourceEnvironmentSchema
from providers.ova.source import OvaExporter
from providers.registry import ProviderSpec
from providers.types import ProviderError


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> OvaExporter:
    """An exporter over ``connection_info['path']``.

    Args:
        connection_info: validated by ``ConnectionSchema``.
        source_environment: validated by ``SourceEnvironmentSchema``.

    Raises:
        ProviderError: the options do not validate.
    """
    try:
        conn = ConnectionSchema().load(connection_info)
        env = SourceEnvironmentSchema().load(source_environment or {})
    except ValidationError as exc:
        raise ProviderError(f"invalid ova options: {exc.messages}") from exc
    return OvaExporter(conn["path"], verify_manifest=env["verify_manifest"],
                       require_manifest=env["require_manifest"])


PROVIDER = ProviderSpec(
    name="ova",
    description="OVA appliances and VMware VMX folders from a local directory (source only)",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    exporter=make_exporter,
    local_path_fields=("path",),
)
