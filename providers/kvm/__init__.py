"""The kvm destination provider: imported disks plus a libvirt domain and qemu command line, boot-checked."""

from __future__ import annotations

from providers.kvm.destination import make_importer
from providers.kvm.options import ConnectionSchema, TargetEnvironmentSchema
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="kvm",
    description="Local KVM/qemu: disks and a libvirt domain in a directory, first boot checked under qemu",
    connection_schema=ConnectionSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    importer=make_importer,
)
