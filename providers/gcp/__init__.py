"""The gcp destination provider: disk.raw tarballs in Cloud Storage, Compute images and an instance."""

from __future__ import annotations

from providers.gcp.destination import make_importer
from providers.gcp.options import ConnectionSchema, TargetEnvironmentSchema
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="gcp",
    description="Google Compute Engine: disks streamed as disk.raw tar.gz to a bucket, images, an instance on "
    "mapped subnetworks",
    connection_schema=ConnectionSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    importer=make_importer,
)
