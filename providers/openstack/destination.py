"""The openstack destination: disks to Glance images (or Cinder volumes), ports on mapped networks, a Nova server."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from marshmallow import ValidationError

from providers.openstack import flavors as flavor_choice
from providers.openstack.client import Cloud, Image, Port, Server, Volume
from providers.openstack.images import UploadReader, file_digests, file_size
from providers.openstack.networks import plan_ports
from providers.openstack.options import TargetOptions, load_connection, load_target
from providers.openstack.servers import CINDER, GLANCE, boot_source
from providers.types import (
    BootResult,
    DiskRef,
    Firmware,
    ImportedInstance,
    MigrationContext,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

MIGRATION_KEY = "coriolis_migration_id"
INSTANCE_KEY = "coriolis_instance"
FAILURE_RE = re.compile(r"Kernel panic|Gave up waiting for root|No bootable device|Boot failed")
T = TypeVar("T")


def safe_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]``, with a short hash when characters were dropped."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if cleaned == name and cleaned:
        return cleaned
    return f"{cleaned or 'x'}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class OpenStackImporter:
    """Creates, in one project of an OpenStack cloud, what a migrated instance needs; deletes it on failure."""

    def __init__(self, connection_info: dict[str, Any], options: TargetOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._cloud: Cloud | None = None

    @property
    def cloud(self) -> Cloud:
        """The cloud connection; the connection info is checked here (the API checked it already)."""
        if self._cloud is None:
            try:
                self._cloud = Cloud(load_connection(self._connection_info))
            except ValidationError as exc:
                raise ProviderError(f"connection_info: {exc.messages}") from None
        return self._cloud

    def tags(self, ctx: MigrationContext) -> dict[str, str]:
        """The metadata every resource of this migration's instance carries."""
        return {MIGRATION_KEY: ctx.migration_id, INSTANCE_KEY: ctx.instance[:255]}

    def server_name(self, ctx: MigrationContext) -> str:
        """coriolis-<migration>-<instance>: the server's name, and the prefix of its other resources."""
        return safe_name(ctx.resource_name(ctx.instance))

    def _mine(self, ctx: MigrationContext, metadata: dict[str, Any]) -> bool:
        return metadata.get(MIGRATION_KEY) == ctx.migration_id and metadata.get(INSTANCE_KEY) == ctx.instance[:255]

    def _port_description(self, ctx: MigrationContext) -> str:
        return f"{MIGRATION_KEY}={ctx.migration_id} {INSTANCE_KEY}={ctx.instance}"[:255]

    def validate(self) -> None:
        """Log in, check the catalog's endpoints, the flavor, the mapped networks, security groups, key pair."""
        cloud = self.cloud
        services = ("image", "compute", "network") + (("block-storage",) if self.options.boot_from_volume else ())
        cloud.check_catalog(services)
        if self.options.flavor_name:
            flavor_choice.by_name(cloud.flavors(), self.options.flavor_name)
        for network in set(self.options.network_map.values()):
            cloud.network_id(network)
        for group in self.options.security_groups:
            cloud.security_group_id(group)
        if self.options.key_name and not cloud.keypair_exists(self.options.key_name):
            raise ProviderError(f"key pair {self.options.key_name!r} does not exist")

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """Images in ``image_format``, the chosen disk bus, virtio NICs, cloud-init for OpenStack."""
        return TargetProfile(
            disk_format=self.options.image_format,
            disk_bus=self.options.disk_bus,
            nic_model="virtio",
            firmware=vm.firmware_type,
            cloud_init_datasources=("OpenStack", "ConfigDrive"),
        )

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Stream ``disk`` into a Glance image (reused when an active one holds the same bytes).

        With ``boot_from_volume``, or for a disk other than the first, a Cinder volume is made from it.

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
        image = self._reusable_image(name, path, ctx, reporter) or self._upload(vm, disk, name, path, ctx, reporter)
        first = not vm.disks or vm.disks[0].id == disk.disk_id
        if self.options.boot_from_volume or not first:
            volume = self._volume_from(image, name, disk, ctx, reporter)
            return DiskRef(disk.disk_id, CINDER + volume.id, want, disk.size_bytes, disk.checksum)
        return DiskRef(disk.disk_id, GLANCE + image.id, want, disk.size_bytes, disk.checksum)

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
        try:
            self.cloud.delete_image(image_id)
        except ProviderError as exc:  # cleanup finds it again by its migration id
            reporter.warn(f"could not delete partial image {image_id}: {exc}")

    def _volume_from(self, image: Image, name: str, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> Volume:
        size_gb = flavor_choice.disk_gb(disk.size_bytes)
        found = [v for v in self.cloud.volumes() if v.name == name and self._mine(ctx, v.metadata)]
        for volume in found:
            if volume.status in ("available", "creating", "downloading") and volume.size_gb == size_gb:
                break
            self.cloud.delete_volume(volume.id)
        else:
            metadata = {**self.tags(ctx), "coriolis_image_id": image.id}
            volume = self.cloud.create_volume(
                name, size_gb, image.id, metadata, self.options.volume_type, self.options.availability_zone
            )
            reporter.info(f"creating volume {name} ({volume.id}, {size_gb} GB) from image {image.id}")
        return self._wait(
            lambda: self.cloud.get_volume(volume.id), lambda v: v.status == "available",
            lambda v: v.status.startswith("error"), reporter, f"volume {name}",
        )

    def _wait(self, fetch: Callable[[], T | None], ready: Callable[[T], bool], failed: Callable[[T], bool],
              reporter: Reporter, what: str) -> T:
        """Poll ``fetch`` until ``ready`` (bounded by ``active_timeout``); ``ProviderError`` on failure or timeout."""
        start = time.monotonic()
        delay = 0.2
        while True:
            item = fetch()
            if item is None:
                raise ProviderError(f"{what} disappeared")
            if ready(item):
                return item
            if failed(item):
                detail = getattr(item, "fault", "") or getattr(item, "status", "")
                raise ProviderError(f"{what} failed: {detail}")
            waited = time.monotonic() - start
            if waited > self.options.active_timeout:
                raise ProviderError(f"{what} not ready after {self.options.active_timeout:g} s "
                                    f"(status {getattr(item, 'status', '?')})")
            reporter.step(int(waited), int(self.options.active_timeout), f"waiting for {what}")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """Create ports and a server from the imported disks (boot disk first) and wait for it to be ACTIVE.

        Args:
            vm: the source instance (CPUs, memory, NICs with MACs and networks).
            disks: what ``import_disk`` returned, boot disk first.
            ctx: the migration; names the server coriolis-<migration>-<instance>.
            reporter: progress while the server builds; ``Cancelled`` propagates (cleanup deletes).
        """
        if not disks:
            raise ProviderError("no disks to boot from")
        cloud, name = self.cloud, self.server_name(ctx)
        boot = disks[0]
        from_volume = boot.path.startswith(CINDER)
        flavors = cloud.flavors()
        if self.options.flavor_name:
            flavor = flavor_choice.by_name(flavors, self.options.flavor_name)
        else:
            root_gb = None if from_volume else flavor_choice.disk_gb(boot.size_bytes)
            flavor = flavor_choice.best_fit(flavors, vm.num_cpu, vm.memory_mb, root_gb)
        reporter.info(f"flavor {flavor.name}: {flavor.vcpus} vCPUs, {flavor.ram_mb} MB, {flavor.disk_gb} GB")
        if self.options.key_name and not cloud.keypair_exists(self.options.key_name):
            raise ProviderError(f"key pair {self.options.key_name!r} does not exist")
        server = self._existing_server(ctx, name)
        ports = self._ports(vm, ctx, name, reporter)
        if server is None:
            attrs: dict[str, Any] = {
                "name": name, "flavor_id": flavor.id, "metadata": self.tags(ctx), "config_drive": True,
                "networks": [{"port": p.id} for p in ports] or "none",
            }
            if self.options.key_name:
                attrs["key_name"] = self.options.key_name
            if self.options.availability_zone:
                attrs["availability_zone"] = self.options.availability_zone
            attrs.update(boot_source(disks))
            server = cloud.create_server(**attrs)
            reporter.info(f"server {name} ({server.id}) created; waiting for ACTIVE")
        server = self._wait(lambda: cloud.get_server(server.id), lambda s: s.status == "ACTIVE",
                            lambda s: s.status == "ERROR", reporter, f"server {name}")
        return ImportedInstance(
            id=server.id,
            name=name,
            disks=tuple(disks),
            details={
                "server_id": server.id,
                "status": server.status,
                "flavor_id": flavor.id,
                "flavor_name": flavor.name,
                "ports": [{"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address} for p in ports],
                "image_ids": [d.path[len(GLANCE):] for d in disks if d.path.startswith(GLANCE)],
                "volume_ids": [d.path[len(CINDER):] for d in disks if d.path.startswith(CINDER)],
                "key_name": self.options.key_name,
                "security_groups": list(self.options.security_groups),
            },
        )

    def _existing_server(self, ctx: MigrationContext, name: str) -> Server | None:
        """A server a previous attempt made (reused unless it failed: then it is deleted)."""
        for server in self.cloud.servers():
            if server.name != name or not self._mine(ctx, server.metadata):
                continue
            if server.status != "ERROR":
                return server
            self.cloud.delete_server(server.id)
            self._wait_gone(server.id)
        return None

    def _ports(self, vm: VmInfo, ctx: MigrationContext, name: str, reporter: Reporter) -> list[Port]:
        plans = plan_ports(vm.nics, self.options.network_map, self.options.keep_mac_addresses)
        groups = [self.cloud.security_group_id(g) for g in self.options.security_groups]
        description = self._port_description(ctx)
        existing = {p.name: p for p in self.cloud.ports() if p.description == description}
        ports = []
        for plan in plans:
            port_name = f"{name}-port{plan.index}"
            network_id = self.cloud.network_id(plan.network)
            port = existing.get(port_name)
            if port and port.network_id == network_id and plan.mac_address in (None, port.mac_address):
                ports.append(port)
                continue
            if port:
                self.cloud.delete_port(port.id)
            attrs: dict[str, Any] = {"name": port_name, "network_id": network_id, "description": description}
            if plan.mac_address:
                attrs["mac_address"] = plan.mac_address
            if groups:
                attrs["security_group_ids"] = groups
            port = self.cloud.create_port(**attrs)
            reporter.info(f"port {port_name} on {plan.network} ({port.mac_address}) for source network "
                          f"{plan.source_network!r}")
            ports.append(port)
        return ports

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """The server is ACTIVE; when Nova gives a console log, the boot marker must show in it.

        Args:
            instance: what ``create_instance`` returned.
            ctx: the migration.
            reporter: progress while waiting for the marker; ``Cancelled`` propagates.
        """
        start = time.monotonic()
        server = self.cloud.get_server(instance.id)
        if server is None or server.status != "ACTIVE":
            state = "is gone" if server is None else f"is {server.status} {server.fault}".rstrip()
            return BootResult(False, 0.0, f"server {instance.id} {state}")
        marker = re.compile(self.options.marker)
        console = ""
        while True:
            seconds = round(time.monotonic() - start, 2)
            output = self.cloud.console_output(server.id)
            if output is None:
                return BootResult(True, seconds, f"server {server.id} is ACTIVE (the cloud gives no console log)")
            console = output
            tail = console[-2048:]
            found = next((line for line in console.splitlines() if marker.search(line)), None)
            if found:
                return BootResult(True, seconds, f"server {server.id} is ACTIVE; console: {found.strip()}", tail)
            failure = FAILURE_RE.search(console)
            if failure:
                return BootResult(False, seconds, f"server {server.id} is ACTIVE but failed to boot: "
                                                  f"{failure.group(0)}", tail)
            if seconds >= self.options.boot_timeout:
                if not console.strip():
                    return BootResult(True, seconds, f"server {server.id} is ACTIVE (its console log stayed empty)")
                return BootResult(False, seconds, f"server {server.id} is ACTIVE but {self.options.marker!r} "
                                                  f"did not show on its console in {seconds:g} s", tail)
            reporter.step(int(seconds), int(self.options.boot_timeout), "waiting for the boot marker")
            time.sleep(min(5.0, max(0.5, self.options.boot_timeout / 60)))

    def cleanup(self, ctx: MigrationContext) -> None:
        """Delete the servers, ports, volumes and images of this migration's instance; safe to repeat."""
        cloud, errors = self.cloud, []
        steps: list[tuple[str, Callable[[], None]]] = [
            ("servers", lambda: self._delete_servers(ctx)),
            ("ports", lambda: [cloud.delete_port(p.id) for p in cloud.ports()
                               if p.description == self._port_description(ctx)]),
            ("volumes", lambda: [cloud.delete_volume(v.id) for v in cloud.volumes() if self._mine(ctx, v.metadata)]),
            ("images", lambda: [cloud.delete_image(i.id) for i in cloud.images() if self._mine(ctx, i.properties)]),
        ]
        for what, step in steps:
            try:
                step()
            except ProviderError as exc:  # keep deleting the rest, then say what was left
                errors.append(f"{what}: {exc}")
        if errors:
            raise ProviderError("cleanup left resources behind: " + "; ".join(errors))

    def _delete_servers(self, ctx: MigrationContext) -> None:
        mine = [s for s in self.cloud.servers() if self._mine(ctx, s.metadata)]
        for server in mine:
            self.cloud.delete_server(server.id)
        for server in mine:  # their ports and volumes are released only once they are gone
            self._wait_gone(server.id)

    def _wait_gone(self, server_id: str) -> None:
        deadline = time.monotonic() + self.options.active_timeout
        delay = 0.2
        while self.cloud.get_server(server_id) is not None:
            if time.monotonic() > deadline:
                raise ProviderError(f"server {server_id} still exists {self.options.active_timeout:g} s after delete")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> OpenStackImporter:
    """The openstack importer; the target environment is validated now, the connection info at first use."""
    return OpenStackImporter(dict(connection_info or {}), load_target(target_environment))
