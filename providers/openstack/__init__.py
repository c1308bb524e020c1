"""The openstack destination provider: Glance images or Cinder volumes, Neutron ports and a Nova server."""

from __future__ import annotations

from providers.openstack.destination import make_importer
from providers.openstack.options import ConnectionSchema, TargetEnvironmentSchema
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="openstack",
    description="OpenStack: disks to Glance images (or Cinder volumes), ports on mapped networks, a Nova server",
    connection_schema=ConnectionSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    importer=make_importer,
)
