"""The kvm provider: as a source, libvirt domain XMLs with qcow2/raw disks (changes tracked by persistent
dirty bitmaps); as a destination, imported disks plus a libvirt domain and qemu command line, boot-checked."""

from __future__ import annotations

from providers.kvm.destination import make_importer
from providers.kvm.options import ConnectionSchema, SourceEnvironmentSchema, TargetEnvironmentSchema
from providers.kvm.source import make_exporter
from providers.registry import ProviderSpec

PROVIDER = ProviderSpec(
    name="kvm",
    description="Local KVM/qemu: libvirt domain XMLs as a source (qcow2 dirty bitmaps track changes); "
    "as a destination, disks and a libvirt domain in a directory, first boot checked under qemu",
    connection_schema=ConnectionSchema,
    source_environment_schema=SourceEnvironmentSchema,
    destination_environment_schema=TargetEnvironmentSchema,
    exporter=make_exporter,
    importer=make_importer,
    local_path_fields=("domains_dir", "image_dirs", "storage_dir"),
)
