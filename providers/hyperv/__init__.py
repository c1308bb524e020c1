"""The hyperv source provider: VMs of a Hyper-V host over WinRM, their VHD/VHDX files over SMB."""

from __future__ import annotations

from typing import Any

from providers.hyperv.options import ConnectionSchema, SourceEnvironmentSchema
from providers.hyperv.source import HypervExporter
from providers.registry import ProviderSpec


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> HypervExporter:
    """An exporter for a Hyper-V host; options are validated on first use (``ProviderError``), nothing connects.

    Args:
        connection_info: validated by ``ConnectionSchema`` (host, WinRM port/transport/scheme, credentials, SMB).
        source_environment: validated by ``SourceEnvironmentSchema``.
    """
    return HypervExporter(connection_info, source_environment)


PROVIDER = ProviderSpec(
    name="hyperv",
    description="Microsoft Hyper-V host: VMs listed over WinRM (PowerShell), disks read over SMB through a "
    "production checkpoint (source only)",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    exporter=make_exporter,
)
