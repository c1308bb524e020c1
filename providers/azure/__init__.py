"""The azure destination provider (Azure and AzureStack): page-blob VHDs, managed disks, NICs and a VM through ARM."""

from __future__ import annotations

from providers.azure.destination import make_importer
from providers.azure.options import ConnectionSchema, TargetEnvironmentSchema
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="azure",
    description="Azure / AzureStack: disks uploaded as fixed-VHD page blobs into managed disks, NICs on mapped "
    "subnets, a VM",
    connection_schema=ConnectionSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    importer=make_importer,
)
