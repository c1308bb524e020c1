"""The aws provider: EC2 instances and EBS volumes read and written through the EBS direct APIs."""

from __future__ import annotations

from providers.aws.destination import make_importer
from providers.aws.options import ConnectionSchema, SourceEnvironmentSchema, TargetEnvironmentSchema
from providers.aws.source import make_exporter
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="aws",
    description="Amazon EC2: instances read through EBS snapshots; disks written as EBS snapshots (EBS direct APIs), "
    "an AMI and an instance on mapped subnets",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    exporter=make_exporter,
    importer=make_importer,
)
