"""Disks into an OpenStack project: streamed into Glance images, made Cinder volumes when asked, reused
when a redelivered task finds them already holding the same bytes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.openstack import flavors as flavor_choice
from providers.openstack.client import Cloud, Image, Volume
from providers.openstack.images import UploadReader, file_digests, file_size
from providers.openstack.options import TargetOptions
from providers.openstack.servers import CINDER, GLANCE, safe_name
from providers.openstack.storage import mapped_volume_type
from providers.types import DiskRef, Firmware, MigrationContext, ProviderError, Reporter, VmInfo

FORGET_SECONDS = 30.0  # how long a partial image's deletion is tried again
FORGET_PAUSE = 0.5


class DiskImports:
    """The disk half of ``OpenStackImporter`` (its ``import_disk``), kept apart from servers and ports.

    Uses the importer's ``cloud``, ``options``, ``tags``, ``server_name``, ``_mine`` and ``_wait``.
    """

    cloud: Cloud
    options: TargetOptions
    tags: Callable[[MigrationContext], dict[str, str]]
    server_name: Callable[[MigrationContext], str]
    _mine: Callable[[MigrationContext, dict[str, Any]], bool]
    _wait: Callable[..., Any]

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Stream ``disk`` into a Glance image (reused when an active one holds the same bytes).

        A Cinder volume is made from it (and the image, only a carrier then, deleted) with
        ``boot_from_volume``, for a disk other than the first, or when ``storage_mappings`` give the
        disk a volume type; a volume already holding the same bytes is reused without an upload.

        Args:
            vm: the source instance (firmware, disk order).
            disk: the converted, morphed disk in staging, in ``image_format``.
            ctx: the migration; names the image coriolis-<migration>-<instance>-<disk>.
            reporter: upload progress; ``Cancelled`` deletes the partial image and propagates.
        """
        want = self.options.image_format
        if disk.format != want:
            raise ProviderError(f"disk {disk.disk_id} is {disk.format}, the image format is {want}")
        path = Path(disk.path)
        if not path.is_file():
            raise ProviderError(f"disk {disk.disk_id}: {path} does not exist")
        name = safe_name(f"{self.server_name(ctx)}-{disk.disk_id}")
        first = not vm.disks or vm.disks[0].id == disk.disk_id
        source = next((d for d in vm.disks if d.id == disk.disk_id), None)
        volume_type = mapped_volume_type(disk.disk_id, source, self.options.storage_mappings)
        if not (self.options.boot_from_volume or not first or volume_type):
            image = self._reusable_image(name, path, ctx, reporter) or self._upload(vm, disk, name, path, ctx, reporter)
            return DiskRef(disk.disk_id, GLANCE + image.id, want, disk.size_bytes, disk.checksum)
        volume_type = volume_type or self.options.volume_type
        volume = self._reusable_volume(name, path, disk, volume_type, ctx, reporter)
        if volume is None:
            image = self._reusable_image(name, path, ctx, reporter) or self._upload(vm, disk, name, path, ctx, reporter)
            volume = self._volume_from(image, name, disk, volume_type, ctx, reporter)
            reporter.info(f"volume {name} ({volume.id}) holds disk {disk.disk_id}; removing carrier image {image.id}")
            self.cloud.delete_image(image.id)
        return DiskRef(disk.disk_id, CINDER + volume.id, want, disk.size_bytes, disk.checksum)

    def _reusable_volume(self, name: str, path: Path, disk: DiskRef, volume_type: str | None, ctx: MigrationContext,
                         reporter: Reporter) -> Volume | None:
        """A volume of this migration already holding this file's bytes (a redelivered task; in use when the
        server of the earlier attempt exists, which ``create_instance`` then reuses)."""
        size_gb = flavor_choice.disk_gb(disk.size_bytes)
        candidates = [v for v in self.cloud.volumes()
                      if v.name == name and self._mine(ctx, v.metadata) and v.status in ("available", "in-use")
                      and v.size_gb == size_gb and v.metadata.get("coriolis_volume_type") == (volume_type or "")]
        md5 = file_digests(path)[0] if candidates else None
        for volume in candidates:
            if volume.metadata.get("coriolis_disk_md5") == md5:
                reporter.info(f"volume {name} ({volume.id}) already holds this disk; reused")
                return volume
        return None

    def _reusable_image(self, name: str, path: Path, ctx: MigrationContext, reporter: Reporter) -> Image | None:
        size = file_size(path)
        digests: tuple[str, str] | None = None
        for image in self.cloud.images():
            if image.name != name or not self._mine(ctx, image.properties):
                continue
            if image.status == "active" and image.size == size:
                digests = digests or file_digests(path)
                if image.checksum == digests[0] or (image.hash_algo == "sha512" and image.hash_value == digests[1]):
                    reporter.info(f"image {name} ({image.id}) already holds this disk; reused")
                    return image
            reporter.info(f"removing incomplete or different image {name} ({image.id}, {image.status})")
            self.cloud.delete_image(image.id)
        return None

    def _upload(
        self, vm: VmInfo, disk: DiskRef, name: str, path: Path, ctx: MigrationContext, reporter: Reporter
    ) -> Image:
        properties = {
            "hw_disk_bus": self.options.disk_bus,
            "hw_vif_model": "virtio",
            "hw_firmware_type": "uefi" if vm.firmware_type == Firmware.EFI else "bios",
            **({"hw_scsi_model": "virtio-scsi"} if self.options.disk_bus == "scsi" else {}),
            "coriolis_disk_id": disk.disk_id[:255],
            **self.tags(ctx),
        }
        size = file_size(path)
        image_id = self.cloud.create_image(name, self.options.image_format, self.options.container_format, properties)
        reporter.info(f"uploading disk {disk.disk_id} ({size} bytes) to image {name} ({image_id})")
        with open(path, "rb") as stream:
            reader = UploadReader(stream, size, reporter, f"uploading disk {disk.disk_id} to Glance")
            try:
                self.cloud.upload_image(image_id, reader)
            except BaseException as exc:
                self._forget_image(image_id, reporter)
                if reader.cancelled is not None and exc is not reader.cancelled:
                    raise reader.cancelled from exc
                raise
        image = self.cloud.get_image(image_id)
        if image is None or image.status != "active" or image.size != size:
            self._forget_image(image_id, reporter)
            state = "gone" if image is None else f"{image.status}, {image.size} bytes"
            raise ProviderError(f"image {name} is not active with {size} bytes after the upload ({state})")
        if image.checksum and image.checksum != reader.md5.hexdigest():
            self._forget_image(image_id, reporter)
            raise ProviderError(f"image {name}: Glance's checksum differs from the uploaded bytes'")
        return image

    def _forget_image(self, image_id: str, reporter: Reporter) -> None:
        """Delete a partial image until Glance says it is gone, trying again for ``FORGET_SECONDS``.

        Right after an aborted upload Glance is still winding it down (putting the image back to ``queued``), and
        a delete in that moment may fail with a 5xx (seen: its database locked) or race with that write. Past the
        deadline a warning: the migration's cleanup finds the image again by its migration id.
        """
        deadline = time.monotonic() + FORGET_SECONDS
        while True:
            try:
                self.cloud.delete_image(image_id)
                image = self.cloud.get_image(image_id)
                if image is None or image.status == "deleted":
                    return
                problem = f"still {image.status} after a delete"
            except ProviderError as exc:
                problem = str(exc)
            if time.monotonic() >= deadline:
                reporter.warn(f"could not delete partial image {image_id}: {problem}")
                return
            time.sleep(FORGET_PAUSE)

    def _volume_from(self, image: Image, name: str, disk: DiskRef, volume_type: str | None, ctx: MigrationContext,
                     reporter: Reporter) -> Volume:
        size_gb = flavor_choice.disk_gb(disk.size_bytes)
        found = [v for v in self.cloud.volumes() if v.name == name and self._mine(ctx, v.metadata)]
        for volume in found:
            if (volume.status in ("available", "creating", "downloading") and volume.size_gb == size_gb
                    and volume.metadata.get("coriolis_image_id") == image.id):
                break
            self.cloud.delete_volume(volume.id)
        else:
            metadata = {**self.tags(ctx), "coriolis_image_id": image.id, "coriolis_disk_md5": image.checksum or "",
                        "coriolis_volume_type": volume_type or ""}
            volume = self.cloud.create_volume(
                name, size_gb, image.id, metadata, volume_type, self.options.availability_zone
            )
            reporter.info(f"creating volume {name} ({volume.id}, {size_gb} GB"
                          + (f", type {volume_type}" if volume_type else "") + f") from image {image.id}")
        return self._wait(
            lambda: self.cloud.get_volume(volume.id), lambda v: v.status == "available",
            lambda v: v.status.startswith("error"), reporter, f"volume {name}",
        )
