"""The scvmm source provider: VMs managed by System Center VMM, their disks read from their Hyper-V hosts."""

from __future__ import annotations

from typing import Any

from providers.registry import ProviderSpec
from providers.scvmm.options import ConnectionSchema, SourceEnvironmentSchema
from providers.scvmm.source import ScvmmExporter


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> ScvmmExporter:
    """An exporter for a VMM server; options are validated on first use (``ProviderError``), nothing connects.

    Args:
        connection_info: validated by ``ConnectionSchema`` (the VMM server's WinRM, SMB credentials for its hosts).
        source_environment: validated by ``SourceEnvironmentSchema``.
    """
    return ScvmmExporter(connection_info, source_environment)


PROVIDER = ProviderSpec(
    name="scvmm",
    description="Microsoft System Center VMM: VMs listed and checkpointed through the VirtualMachineManager "
    "module over WinRM, disks read over SMB from each VM's Hyper-V host (source only)",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    exporter=make_exporter,
)
