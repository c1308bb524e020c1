"""The vsphere source provider: VMs and templates from vCenter or ESXi, exported through snapshots or leases.

Also registered as ``vmware_vsphere`` (upstream Coriolis' type name): a second entry point to the
same ``PROVIDER``, which ``registry.get_provider`` resolves as an alias.
"""

from __future__ import annotations

from typing import Any

from providers.registry import ProviderSpec
from providers.vsphere.options import ConnectionSchema, SourceEnvironmentSchema
from providers.vsphere.source import VsphereExporter


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> VsphereExporter:
    """An exporter for a vCenter/ESXi endpoint.

    The options are validated on first use (``ProviderError`` then): making the exporter
    does not connect.

    Args:
        connection_info: validated by ``ConnectionSchema`` (host, port, username, password, allow_untrusted).
        source_environment: validated by ``SourceEnvironmentSchema``.
    """
    return VsphereExporter(connection_info, source_environment)


PROVIDER = ProviderSpec(
    name="vsphere",
    description="VMware vCenter / ESXi: VMs and templates exported through snapshots, NFC export leases or "
    "the datastore (source only)",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    exporter=make_exporter,
)
