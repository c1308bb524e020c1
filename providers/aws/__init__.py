"""The aws provider: EC2 instances and EBS volumes read and written through the EBS direct APIs."""

from __future__ import annotations

from providers.aws.destination import make_importer
from providers.aws.options import ConnectionSchema, TargetEnvironmentSchema
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="aws",
    description="Amazon EC2: disks to EBS snapshots (EBS direct APIs), an AMI, an instance on mapped subnets",
    connection_schema=ConnectionSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    importer=make_importer,
)
