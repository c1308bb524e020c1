"""The gcp destination: each disk as disk.raw in a tar.gz streamed to a bucket, an image from it, an instance."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from google.api_core.exceptions import GoogleAPIError, NotFound
from marshmallow import ValidationError

from providers.abilities import run_lookups
from providers.gcp.client import Gcp
from providers.gcp.options import TargetOptions, load_connection, load_target
from providers.gcp.tarball import TarGzStream
from providers.naming import name_hash
from providers.types import (
    BootResult,
    Cancelled,
    DiskRef,
    Firmware,
    ImportedInstance,
    MigrationContext,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

IMAGE = "gce-image:"
MIGRATION_LABEL = "coriolis-migration"
TIMEOUT_UPLOAD = 300
INSTANCE_LABEL = "coriolis-instance"


def label(value: str) -> str:
    """A label value: lowercase letters, digits, ``-`` and ``_``, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", value.lower())[:63]
    return cleaned if cleaned == value else f"{cleaned[:54]}-{name_hash(value)}"


def resource_name(value: str) -> str:
    """A Compute resource name: ``[a-z]([-a-z0-9]*[a-z0-9])?``, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"c-{cleaned}"
    if cleaned == value and len(cleaned) <= 63:
        return cleaned
    return f"{cleaned[:54].rstrip('-')}-{name_hash(value)}"


def best_machine_type(types: list[dict[str, Any]], cpus: int, memory_mb: int) -> str:
    """The type with enough CPUs and memory: fewest CPUs, then least memory, then name (shared-core ones last)."""
    fits = [(t.get("isSharedCpu", False), t["guestCpus"], t["memoryMb"], t["name"]) for t in types
            if t.get("guestCpus", 0) >= cpus and t.get("memoryMb", 0) >= memory_mb and not t.get("deprecated")]
    if not fits:
        raise ProviderError(f"no machine type has {cpus} CPUs and {memory_mb} MB")
    return min(fits)[3]


class GcpImporter:
    """Creates, in one project and zone, what a migrated instance needs; deletes it on failure."""

    def __init__(self, connection_info: dict[str, Any], options: TargetOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._gcp: Gcp | None = None

    @property
    def gcp(self) -> Gcp:
        if self._gcp is None:
            try:
                self._gcp = Gcp(load_connection(self._connection_info))
            except ValidationError as exc:
                raise ProviderError(f"connection_info: {exc.messages}") from None
        return self._gcp

    def labels(self, ctx: MigrationContext) -> dict[str, str]:
        return {MIGRATION_LABEL: label(ctx.migration_id), INSTANCE_LABEL: label(ctx.instance)}

    def name(self, ctx: MigrationContext) -> str:
        return resource_name(ctx.resource_name(ctx.instance))

    def _mine(self, ctx: MigrationContext, item: dict[str, Any]) -> bool:
        return (item.get("labels") or {}) == {**(item.get("labels") or {}), **self.labels(ctx)}

    def validate(self) -> None:
        """The project answers, the bucket exists, the mapped subnetworks exist."""
        self.gcp.call("GET", f"zones/{self.gcp.conn.zone}")
        try:
            if not self.gcp.bucket().exists():
                raise ProviderError(f"bucket {self.gcp.conn.bucket} does not exist")
        except GoogleAPIError as exc:
            raise ProviderError(f"bucket {self.gcp.conn.bucket}: {exc}") from None
        for subnet in sorted(set(self.options.network_map.values())):
            self.gcp.call("GET", subnet.split("projects/", 1)[-1].split("/", 1)[-1]
                          if subnet.startswith("projects/") else subnet)

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """Raw disks on Compute Engine's buses (``gce``: virtio-scsi, NVMe on third-generation machine types),
        gVNIC (or virtio-net) NICs, cloud-init's GCE datasource."""
        return TargetProfile(disk_format="raw", disk_bus="gce",
                             nic_model="gvnic" if self.options.nic_type == "GVNIC" else "virtio",
                             firmware=vm.firmware_type, cloud_init_datasources=("GCE",))

    def _object_name(self, ctx: MigrationContext, disk_id: str) -> str:
        return f"coriolis/{ctx.migration_id}/{resource_name(disk_id)}.tar.gz"

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Stream ``disk`` as disk.raw in a GNU tar.gz to the bucket (resumable upload), make an image of it,
        delete the object.

        Args:
            vm: the source instance (firmware: UEFI_COMPATIBLE).
            disk: the converted, morphed raw disk in staging.
            ctx: the migration; names and labels the object and the image.
            reporter: bytes of the disk read; ``Cancelled`` abandons the upload and propagates.
        """
        if disk.format != "raw":
            raise ProviderError(f"disk {disk.disk_id} is {disk.format}; the gcp destination takes raw disks")
        path = Path(disk.path)
        if not path.is_file():
            raise ProviderError(f"disk {disk.disk_id}: {path} does not exist")
        size = max(disk.size_bytes, path.stat().st_size)
        blob = self.gcp.bucket().blob(self._object_name(ctx, disk.disk_id),
                                      chunk_size=self.options.chunk_size_mib << 20)
        blob.metadata = {MIGRATION_LABEL: ctx.migration_id, INSTANCE_LABEL: ctx.instance}
        stream = TarGzStream(path, size)
        message = f"uploading disk {disk.disk_id} as disk.raw in a tar.gz"
        reporter.step(0, stream.member_size, message)

        class Progress:  # the upload pulls from here: progress and cancel checks between chunks
            position = 0

            def read(self, n: int = -1) -> bytes:
                reporter.step(stream.disk_read, stream.member_size, message)
                data = stream.read(n)
                self.position += len(data)
                return data

            def tell(self) -> int:
                return self.position

        try:
            blob.upload_from_file(Progress(), content_type="application/gzip", rewind=False,
                                  timeout=TIMEOUT_UPLOAD)
        except (Cancelled, GoogleAPIError, OSError, ValueError) as exc:
            stream.close()
            self._delete_object(blob.name)
            if isinstance(exc, Cancelled):
                raise
            raise ProviderError(f"upload of disk {disk.disk_id}: {exc}") from None
        stream.close()
        image = resource_name(f"{self.name(ctx)}-{disk.disk_id}")
        features = [{"type": "VIRTIO_SCSI_MULTIQUEUE"}]
        if self.options.nic_type == "GVNIC":
            features.append({"type": "GVNIC"})
        if vm.firmware_type == Firmware.EFI:
            features.append({"type": "UEFI_COMPATIBLE"})
        gcs = f"https://storage.googleapis.com/{self.gcp.conn.bucket}/{blob.name}"
        try:
            if self.gcp.call("GET", f"global/images/{image}", missing_ok=True) is None:
                operation = self.gcp.call("POST", "global/images", {
                    "name": image, "labels": self.labels(ctx), "rawDisk": {"source": gcs},
                    "guestOsFeatures": features, "description": f"coriolis {ctx.migration_id} {disk.disk_id}"})
                self.gcp.wait(operation or {}, self.options.active_timeout, reporter, f"image {image}")
        finally:
            self._delete_object(blob.name)  # the image holds its own copy
        reporter.info(f"disk {disk.disk_id}: image {image} ({stream.member_size} bytes of disk.raw)")
        return DiskRef(disk.disk_id, IMAGE + image, "raw", stream.member_size, disk.checksum)

    def _delete_object(self, name: str) -> None:
        try:
            self.gcp.bucket().blob(name).delete()
        except NotFound:
            pass
        except GoogleAPIError as exc:
            raise ProviderError(f"deleting gs://{self.gcp.conn.bucket}/{name}: {exc}") from None

    def machine_type(self, vm: VmInfo) -> str:
        if self.options.machine_type:
            return self.options.machine_type
        return best_machine_type(self.gcp.items(f"zones/{self.gcp.conn.zone}/machineTypes"), vm.num_cpu,
                                 vm.memory_mb)

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """The machine types of the zone (``OptionLookup``)."""
        return run_lookups({"machine_type": lambda: sorted(
            t["name"] for t in self.gcp.items(f"zones/{self.gcp.conn.zone}/machineTypes"))}, names)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """An instance booting from the first image, the others as data disks, NICs on the mapped subnetworks.

        Args:
            vm: the source instance (CPUs, memory, NICs and their networks).
            disks: what ``import_disk`` returned, boot disk first.
            ctx: the migration; names and labels everything.
            reporter: progress while the instance is made; ``Cancelled`` propagates (cleanup deletes).
        """
        if not disks:
            raise ProviderError("no disks to boot from")
        zone, name = self.gcp.conn.zone, self.name(ctx)
        mtype = self.machine_type(vm)
        nics = []
        for nic in vm.nics or (None,):
            subnet = (self.options.network_map.get(nic.network_name) if nic else None) or \
                self.options.network_map.get("*")
            if subnet is None:
                raise ProviderError(f"source network {nic.network_name if nic else '(none)'!r} is not in the "
                                    "network_map (map it, or '*', to a subnetwork)")
            nics.append({"subnetwork": subnet, "nicType": self.options.nic_type})
        body = {
            "name": name, "machineType": f"zones/{zone}/machineTypes/{mtype}", "labels": self.labels(ctx),
            "disks": [{"boot": n == 0, "autoDelete": True, "type": "PERSISTENT",
                       "initializeParams": {"sourceImage": f"global/images/{d.path.removeprefix(IMAGE)}",
                                            "diskName": resource_name(f"{name}-disk{n}"),
                                            "labels": self.labels(ctx)}}
                      for n, d in enumerate(disks)],
            "networkInterfaces": nics,
            **({"shieldedInstanceConfig": {"enableSecureBoot": False}} if vm.firmware_type == Firmware.EFI else {}),
        }
        if self.gcp.call("GET", f"zones/{zone}/instances/{name}", missing_ok=True) is None:
            operation = self.gcp.call("POST", f"zones/{zone}/instances", body)
            self.gcp.wait(operation or {}, self.options.active_timeout, reporter, f"instance {name}")
        made = self.gcp.call("GET", f"zones/{zone}/instances/{name}") or {}
        reporter.info(f"instance {name} ({mtype}) created from {len(disks)} image(s)")
        return ImportedInstance(id=name, name=name, disks=tuple(disks), details={
            "instance": made.get("selfLink", name), "machine_type": mtype, "zone": zone,
            "images": [d.path.removeprefix(IMAGE) for d in disks], "subnetworks": [n["subnetwork"] for n in nics]})

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """The instance's status is ``RUNNING`` (no console check)."""
        started = time.monotonic()
        while True:
            found = self.gcp.call("GET", f"zones/{self.gcp.conn.zone}/instances/{instance.id}") or {}
            if found.get("status") == "RUNNING":
                return BootResult(True, time.monotonic() - started, f"instance {instance.id} is RUNNING")
            if time.monotonic() - started > self.options.active_timeout:
                return BootResult(False, time.monotonic() - started, f"instance is {found.get('status')}")
            reporter.step(0, None, f"waiting for instance {instance.id}")
            time.sleep(1)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Delete the instances, disks, images and bucket objects of this migration's instance; safe to repeat."""
        gcp, zone, errors = self.gcp, self.gcp.conn.zone, []
        for what, path in (("instances", f"zones/{zone}/instances"), ("disks", f"zones/{zone}/disks"),
                           ("images", "global/images")):
            try:
                for item in gcp.items(path):
                    if self._mine(ctx, item):
                        operation = gcp.call("DELETE", f"{path}/{item['name']}", missing_ok=True)
                        if operation:
                            gcp.wait(operation, self.options.active_timeout, None, f"deleting {item['name']}")
            except ProviderError as exc:
                errors.append(f"{what}: {exc}")
        try:
            for blob in gcp.storage.list_blobs(gcp.conn.bucket, prefix=f"coriolis/{ctx.migration_id}/"):
                self._delete_object(blob.name)
        except (GoogleAPIError, ProviderError) as exc:
            errors.append(f"objects: {exc}")
        if errors:
            raise ProviderError("cleanup left resources behind: " + "; ".join(errors))


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> GcpImporter:
    """The gcp importer; the target environment is validated now, the connection info at first use."""
    try:
        options = load_target(target_environment)
    except ValidationError as exc:
        raise ProviderError(f"target_environment: {exc.messages}") from None
    return GcpImporter(dict(connection_info or {}), options)
