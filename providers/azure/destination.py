"""The azure destination: disks as fixed-VHD page blobs imported into managed disks, NICs on mapped subnets, a VM."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from providers.abilities import run_lookups
from providers.azure.blobs import blobs_with, delete_blob, upload_vhd
from providers.azure.client import Arm, container_client
from providers.azure.options import Connection, TargetOptions, load_connection, load_target
from providers.naming import cleaned_name
from providers.types import (
    BootResult,
    DiskRef,
    Firmware,
    ImportedInstance,
    MigrationContext,
    OsType,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

MANAGED_DISK = "azure-disk:"
MIGRATION_TAG = "coriolis_migration_id"
INSTANCE_TAG = "coriolis_instance"
DISK_TAG = "coriolis_disk_id"
CHECKSUM_TAG = "coriolis_disk_checksum"


def safe_name(name: str) -> str:
    """``name`` reduced to what Azure resource names allow (80 characters), hashed when shortened or changed."""
    return cleaned_name(name, r"[^A-Za-z0-9._-]+", strip="-.", max_length=70)


def best_size(sizes: list[dict[str, Any]], cpus: int, memory_mb: int) -> str:
    """The VM size with enough cores and memory: fewest cores, then least memory, then name."""
    fits = [(s["numberOfCores"], s["memoryInMB"], s["name"]) for s in sizes
            if s.get("numberOfCores", 0) >= cpus and s.get("memoryInMB", 0) >= memory_mb]
    if not fits:
        raise ProviderError(f"no VM size has {cpus} cores and {memory_mb} MB")
    return min(fits)[2]


class AzureImporter:
    """Creates, in one resource group, what a migrated instance needs; deletes it on failure."""

    def __init__(self, connection_info: dict[str, Any], options: TargetOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._arm: Arm | None = None

    @property
    def connection(self) -> Connection:
        try:
            return load_connection(self._connection_info)
        except ValidationError as exc:
            raise ProviderError(f"connection_info: {exc.messages}") from None

    @property
    def arm(self) -> Arm:
        if self._arm is None:
            self._arm = Arm(self.connection)
        return self._arm

    def container(self) -> Any:
        try:
            return container_client(self.connection, self.options.container)
        except ProviderError:
            raise
        except Exception as exc:  # azure.core errors carry the request, never the key
            raise ProviderError(f"blob container {self.options.container}: {type(exc).__name__}: {exc}") from None

    def tags(self, ctx: MigrationContext, **extra: str) -> dict[str, str]:
        return {MIGRATION_TAG: ctx.migration_id, INSTANCE_TAG: ctx.instance[:256], **extra}

    def name(self, ctx: MigrationContext) -> str:
        return safe_name(ctx.resource_name(ctx.instance))

    def _mine(self, ctx: MigrationContext, resource: dict[str, Any]) -> bool:
        tags = resource.get("tags") or {}
        return tags.get(MIGRATION_TAG) == ctx.migration_id and tags.get(INSTANCE_TAG) == ctx.instance[:256]

    def validate(self) -> None:
        """Log in, reach the storage account, check the mapped subnets exist."""
        self.arm.call("GET", self.arm.path("Microsoft.Compute/disks"), "disks")
        self.container()
        for subnet in sorted(set(self.options.network_map.values())):
            self.arm.call("GET", subnet, "network")

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """Raw disks (VHD'd on upload), Hyper-V storage and network drivers, cloud-init's Azure datasource."""
        return TargetProfile(disk_format="raw", disk_bus="hyperv", nic_model="hyperv", firmware=vm.firmware_type,
                             cloud_init_datasources=("Azure",))

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Upload ``disk`` as a fixed-VHD page blob (non-zero 4 MiB ranges), import it into a managed disk, delete
        the blob.

        Args:
            vm: the source instance (OS type, firmware: the disk's Hyper-V generation).
            disk: the converted, morphed raw disk in staging.
            ctx: the migration; tags and names the blob and the disk.
            reporter: bytes uploaded; ``Cancelled`` deletes the partial blob and propagates.
        """
        if disk.format != "raw":
            raise ProviderError(f"disk {disk.disk_id} is {disk.format}; the azure destination takes raw disks")
        path = Path(disk.path)
        if not path.is_file():
            raise ProviderError(f"disk {disk.disk_id}: {path} does not exist")
        name = safe_name(f"{self.name(ctx)}-{disk.disk_id}")
        container = self.container()
        metadata = self.tags(ctx, **{DISK_TAG: disk.disk_id})
        for blob in blobs_with(container, metadata):  # a partial upload of an earlier attempt
            delete_blob(container, blob.name)
        size = max(disk.size_bytes, path.stat().st_size)
        uploaded = upload_vhd(container, f"{name}.vhd", path, size, metadata, reporter,
                              f"uploading disk {disk.disk_id} as a VHD page blob", self.options.parallel_writes)
        reporter.info(f"disk {disk.disk_id}: {uploaded.ranges_written} ranges ({uploaded.bytes_written} bytes) "
                      f"uploaded to {name}.vhd; content checksum {uploaded.checksum}")
        first = not vm.disks or vm.disks[0].id == disk.disk_id
        conn = self.connection
        account_id = (f"/subscriptions/{conn.subscription_id}/resourceGroups/{conn.resource_group}/providers/"
                      f"Microsoft.Storage/storageAccounts/{conn.storage_account}")
        properties: dict[str, Any] = {
            "creationData": {"createOption": "Import", "sourceUri": uploaded.url, "storageAccountId": account_id},
            "hyperVGeneration": "V2" if vm.firmware_type == Firmware.EFI else "V1",
        }
        if first:
            properties["osType"] = "Windows" if vm.os_type == OsType.WINDOWS else "Linux"
        path_ = self.arm.path(f"Microsoft.Compute/disks/{name}")
        tags = self.tags(ctx, **{DISK_TAG: disk.disk_id, CHECKSUM_TAG: uploaded.checksum})
        try:
            made = self.arm.put(path_, "disks", {"location": conn.location, "tags": tags,
                                                 "sku": {"name": self.options.disk_sku}, "properties": properties},
                                self.options.active_timeout, reporter, f"managed disk {name}")
        finally:
            delete_blob(container, f"{name}.vhd")  # the managed disk holds its own copy
        return DiskRef(disk.disk_id, MANAGED_DISK + made["id"], "raw", uploaded.virtual_size, uploaded.checksum)

    def _sizes(self) -> list[dict[str, Any]]:
        conn = self.connection
        sizes = self.arm.call("GET", f"/subscriptions/{conn.subscription_id}/providers/Microsoft.Compute/locations/"
                                     f"{conn.location}/vmSizes", "compute") or {}
        return sizes.get("value", [])

    def vm_size(self, vm: VmInfo) -> str:
        if self.options.vm_size:
            return self.options.vm_size
        return best_size(self._sizes(), vm.num_cpu, vm.memory_mb)

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """The VM sizes of the location (``OptionLookup``)."""
        return run_lookups({"vm_size": lambda: sorted(s["name"] for s in self._sizes())}, names)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """NICs on the mapped subnets and a VM attaching the managed disks (boot disk first), waited to Succeeded.

        Args:
            vm: the source instance (CPUs, memory, NICs and their networks).
            disks: what ``import_disk`` returned, boot disk first.
            ctx: the migration; names and tags everything.
            reporter: progress while resources provision; ``Cancelled`` propagates (cleanup deletes).
        """
        if not disks:
            raise ProviderError("no disks to boot from")
        arm, conn, name = self.arm, self.connection, self.name(ctx)
        size = self.vm_size(vm)
        nic_ids = []
        for index, nic in enumerate(vm.nics or (None,)):
            subnet = (self.options.network_map.get(nic.network_name) if nic else None) or \
                self.options.network_map.get("*")
            if subnet is None:
                raise ProviderError(f"source network {nic.network_name if nic else '(none)'!r} is not in the "
                                    "network_map (map it, or '*', to a subnet id)")
            made = arm.put(arm.path(f"Microsoft.Network/networkInterfaces/{name}-nic{index}"), "network", {
                "location": conn.location, "tags": self.tags(ctx),
                "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
                    "subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}}]},
            }, self.options.active_timeout, reporter, f"NIC {name}-nic{index}")
            nic_ids.append(made["id"])
        managed = [d.path.removeprefix(MANAGED_DISK) for d in disks]
        os_type = "Windows" if vm.os_type == OsType.WINDOWS else "Linux"
        body = {
            "location": conn.location, "tags": self.tags(ctx),
            "properties": {
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {
                    "osDisk": {"osType": os_type, "createOption": "Attach", "managedDisk": {"id": managed[0]}},
                    "dataDisks": [{"lun": n, "createOption": "Attach", "managedDisk": {"id": d}}
                                  for n, d in enumerate(managed[1:])],
                },
                "networkProfile": {"networkInterfaces": [{"id": n, "properties": {"primary": i == 0}}
                                                         for i, n in enumerate(nic_ids)]},
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
        }
        made = arm.put(arm.path(f"Microsoft.Compute/virtualMachines/{name}"), "compute", body,
                       self.options.active_timeout, reporter, f"VM {name}")
        reporter.info(f"VM {name} ({size}) created with {len(managed)} disk(s) and {len(nic_ids)} NIC(s)")
        return ImportedInstance(id=made["id"], name=name, disks=tuple(disks), details={
            "vm_id": made["id"], "vm_size": size, "nic_ids": nic_ids, "disk_ids": managed,
            "hyper_v_generation": "V2" if vm.firmware_type == Firmware.EFI else "V1",
        })

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """The VM's instance view says ``PowerState/running`` (no console check)."""
        started = time.monotonic()
        deadline = started + self.options.active_timeout
        while True:
            view = self.arm.call("GET", f"{instance.id}/instanceView", "compute") or {}
            codes = [s.get("code", "") for s in view.get("statuses", [])]
            if "PowerState/running" in codes:
                return BootResult(True, time.monotonic() - started, f"VM {instance.name} is running (power state)")
            if time.monotonic() > deadline:
                return BootResult(False, time.monotonic() - started, f"VM {instance.name} not running: {codes}")
            reporter.step(0, None, f"waiting for VM {instance.name} to run")
            time.sleep(1)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Delete the VMs, NICs, managed disks and blobs of this migration's instance (by tag); safe to repeat."""
        arm, errors, timeout = self.arm, [], self.options.active_timeout
        steps = (("VMs", "Microsoft.Compute/virtualMachines", "compute"),
                 ("NICs", "Microsoft.Network/networkInterfaces", "network"),
                 ("disks", "Microsoft.Compute/disks", "disks"))
        for what, kind, api in steps:
            try:
                for resource in arm.list(kind, api):
                    if self._mine(ctx, resource):
                        arm.delete(resource["id"], api, timeout)
            except ProviderError as exc:
                errors.append(f"{what}: {exc}")
        try:
            container = self.container()
            for blob in blobs_with(container, self.tags(ctx)):
                delete_blob(container, blob.name)
        except ProviderError as exc:
            errors.append(f"blobs: {exc}")
        if errors:
            raise ProviderError("cleanup left resources behind: " + "; ".join(errors))


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> AzureImporter:
    """The azure importer; the target environment is validated now, the connection info at first use."""
    try:
        options = load_target(target_environment)
    except ValidationError as exc:
        raise ProviderError(f"target_environment: {exc.messages}") from None
    return AzureImporter(dict(connection_info or {}), options)
