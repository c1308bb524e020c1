"""The aws exporter: EC2 instances and their EBS volumes, read through snapshots and the EBS direct APIs.

Export: each volume is snapshotted (tagged with the migration), its blocks listed and read several at a
time into a sparse raw file in staging, and the snapshot deleted afterwards (cleanup deletes what a failed
or cancelled export left). Change tracking (``changed_areas``): each sync of a transfer snapshots the
volume and asks ``ListChangedBlocks`` between the snapshot the replica committed last time (the change
id) and the new one; the committed snapshot is kept until the replica names a newer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import ValidationError

from providers.abilities import ChangedAreas
from providers.aws.blocks import BLOCK, GIB, changed_blocks, delete_snapshot, get_block, listed_blocks, snapshot_to_file
from providers.aws.client import INSTANCE_TAG, MIGRATION_TAG, Aws, tag_dict, tag_list, wait_for
from providers.aws.options import SourceOptions, load_connection, load_source
from providers.types import (
    DiskInfo,
    DiskRef,
    Firmware,
    InstanceNotFound,
    MigrationContext,
    NicInfo,
    OsType,
    ProviderError,
    Reporter,
    VmInfo,
)

TRANSFER_TAG = "coriolis_transfer_id"
VOLUME_TAG = "coriolis_volume_id"


def _chunks(items: list[str], size: int = 100) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def merge_blocks(indices: list[int], size: int) -> list[tuple[int, int]]:
    """Byte extents covering the 512 KiB blocks ``indices`` (adjacent ones merged), clipped to ``size``."""
    extents: list[tuple[int, int]] = []
    for index in sorted(indices):
        start = index * BLOCK
        if start >= size:
            continue
        end = min(start + BLOCK, size)
        if extents and extents[-1][0] + extents[-1][1] == start:
            extents[-1] = (extents[-1][0], end - extents[-1][0])
        else:
            extents.append((start, end - start))
    return extents


class AwsExporter:
    """Source provider over one region of an account: instance ids are EC2 ids (``i-...``) or Name tags."""

    def __init__(self, connection_info: dict[str, Any], options: SourceOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._aws: Aws | None = None
        self._memory: dict[str, int] = {}
        self._tracking: dict[tuple[str, str], str] = {}  # (transfer, volume) -> the snapshot this sync reads

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            try:
                connection = load_connection(self._connection_info)
            except ValidationError as exc:
                raise ProviderError(f"connection_info: {exc.messages}") from None
            self._aws = Aws(connection, max_pool=2 * self.options.parallel_reads + 4)
        return self._aws

    def validate(self) -> None:
        """Check the credentials reach EC2 in the region."""
        self.aws.call("ec2", "describe_availability_zones")

    # ------------------------------------------------------------------ inventory

    def _memory_mb(self, types: set[str]) -> dict[str, int]:
        unknown = sorted(types - set(self._memory))
        for part in _chunks(unknown):
            for item in self.aws.pages("describe_instance_types", "InstanceTypes", InstanceTypes=part):
                self._memory[item["InstanceType"]] = item.get("MemoryInfo", {}).get("SizeInMiB", 512)
        return self._memory

    def _volumes(self, instances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        ids = sorted({m["Ebs"]["VolumeId"] for i in instances for m in i.get("BlockDeviceMappings", [])
                      if "Ebs" in m})
        found: dict[str, dict[str, Any]] = {}
        for part in _chunks(ids):
            found.update({v["VolumeId"]: v for v in self.aws.pages("describe_volumes", "Volumes", VolumeIds=part)})
        return found

    def _vms(self, instances: list[dict[str, Any]]) -> list[VmInfo]:
        instances = [i for i in instances if i["State"]["Name"] not in ("terminated", "shutting-down")]
        volumes = self._volumes(instances)
        memory = self._memory_mb({i["InstanceType"] for i in instances})
        return [self._vm(i, volumes, memory) for i in instances]

    @staticmethod
    def _vm(instance: dict[str, Any], volumes: dict[str, dict[str, Any]], memory: dict[str, int]) -> VmInfo:
        tags = tag_dict(instance.get("Tags"))
        root = instance.get("RootDeviceName")
        mappings = sorted((m for m in instance.get("BlockDeviceMappings", []) if "Ebs" in m),
                          key=lambda m: (m["DeviceName"] != root, m["DeviceName"]))
        disks = tuple(
            DiskInfo(id=m["Ebs"]["VolumeId"], size_bytes=volumes.get(m["Ebs"]["VolumeId"], {}).get("Size", 0) * GIB,
                     format="raw", path=m["DeviceName"], controller_id="nvme",
                     storage_backend_identifier=volumes.get(m["Ebs"]["VolumeId"], {}).get("VolumeType"))
            for m in mappings)
        nics = tuple(
            NicInfo(mac_address=n.get("MacAddress", ""), network_name=n.get("SubnetId", ""),
                    id=n.get("NetworkInterfaceId"), model="ena",
                    ip_addresses=tuple(a["PrivateIpAddress"] for a in n.get("PrivateIpAddresses", [])
                                       if a.get("PrivateIpAddress")))
            for n in sorted(instance.get("NetworkInterfaces", []),
                            key=lambda n: n.get("Attachment", {}).get("DeviceIndex", 0)))
        cpu = instance.get("CpuOptions", {})
        platform = (instance.get("Platform") or instance.get("PlatformDetails") or "").lower()
        boot = (instance.get("CurrentInstanceBootMode") or instance.get("BootMode") or "").lower()
        return VmInfo(
            id=instance["InstanceId"], name=tags.get("Name") or instance["InstanceId"],
            num_cpu=max(1, cpu.get("CoreCount", 1) * cpu.get("ThreadsPerCore", 1)),
            memory_mb=memory.get(instance["InstanceType"], 512),
            os_type=OsType.WINDOWS if "windows" in platform else OsType.LINUX,
            firmware_type=Firmware.EFI if boot == "uefi" else Firmware.BIOS,
            disks=disks, nics=nics, guest_id=instance.get("ImageId"), hostname=instance.get("PrivateDnsName"),
            power_state=instance["State"]["Name"], flavor_name=instance["InstanceType"],
        )

    def list_instances(self) -> list[VmInfo]:
        """Every instance of the region that is not terminated (paginated)."""
        return self._vms(self.aws.pages("describe_instances", "Instances"))

    def get_instance(self, instance: str) -> VmInfo:
        """An instance by id or by its Name tag."""
        if instance.startswith("i-"):
            found = self.aws.instance(instance)
            vms = self._vms([found] if found else [])
        else:
            vms = self._vms(self.aws.pages("describe_instances", "Instances",
                                           Filters=[{"Name": "tag:Name", "Values": [instance]}]))
        if not vms:
            raise InstanceNotFound(f"no instance {instance!r} in {self.aws.region}")
        if len(vms) > 1:
            raise ProviderError(f"{len(vms)} instances are named {instance!r}; use the instance id")
        return vms[0]

    # ------------------------------------------------------------------ snapshots

    def _snapshot(self, volume_id: str, tags: dict[str, str], reporter: Reporter | None) -> str:
        snap = self.aws.call("ec2", "create_snapshot", VolumeId=volume_id, Description=f"coriolis {volume_id}",
                             TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}])
        snapshot_id = snap["SnapshotId"]
        try:
            wait_for(lambda: self.aws.snapshot(snapshot_id), lambda s: s["State"] == "completed",
                     lambda s: s["State"] == "error", self.options.snapshot_timeout, reporter,
                     f"snapshot {snapshot_id} of {volume_id}")
        except BaseException:
            delete_snapshot(self.aws, snapshot_id)
            raise
        return snapshot_id

    def _tracking_snapshots(self, transfer_id: str, volume_id: str) -> list[dict[str, Any]]:
        found = self.aws.tagged("describe_snapshots", "Snapshots", {TRANSFER_TAG: transfer_id, VOLUME_TAG: volume_id},
                                OwnerIds=["self"])
        return sorted((s for s in found if s["State"] == "completed"), key=lambda s: s["StartTime"])

    def _current(self, ctx: MigrationContext, volume_id: str) -> str | None:
        """The snapshot this transfer sync reads (made by ``changed_areas``), if any."""
        if not ctx.transfer_id:
            return None
        key = (ctx.transfer_id, volume_id)
        if key not in self._tracking:
            made = self._tracking_snapshots(ctx.transfer_id, volume_id)
            if not made:
                return None
            self._tracking[key] = made[-1]["SnapshotId"]
        return self._tracking[key]

    # ------------------------------------------------------------------ export

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Snapshot the volume and read its blocks into ``staging/<volume>.raw`` (sparse), then drop the snapshot.

        A transfer's sync reads the snapshot ``changed_areas`` made instead (kept as the next change base).

        Args:
            vm: the instance.
            disk: the volume (``id`` is the volume id).
            ctx: the migration; its id tags the snapshot, so cleanup finds one a failure left.
            reporter: bytes read; ``Cancelled`` stops the reads (the snapshot is deleted).
        """
        tracked = self._current(ctx, disk.id)
        snapshot_id = tracked or self._snapshot(
            disk.id, {MIGRATION_TAG: ctx.migration_id, INSTANCE_TAG: ctx.instance[:255], VOLUME_TAG: disk.id},
            reporter)
        try:
            return self._read_snapshot(snapshot_id, disk, ctx, reporter)
        finally:
            if tracked is None:
                delete_snapshot(self.aws, snapshot_id)

    def _read_snapshot(self, snapshot_id: str, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        ctx.staging_dir.mkdir(parents=True, exist_ok=True)
        out = ctx.staging_dir / f"{disk.id}.raw"
        digest, count = snapshot_to_file(self.aws, snapshot_id, disk.size_bytes, out, reporter,
                                         f"reading {disk.id} from snapshot {snapshot_id}", self.options.parallel_reads)
        reporter.info(f"disk {disk.id}: {count} blocks read from snapshot {snapshot_id}")
        return DiskRef(disk.id, str(out), "raw", disk.size_bytes, digest)

    # ------------------------------------------------------------------ change tracking

    def changed_areas(self, vm: VmInfo, disk: DiskInfo, since: str | None, ctx: MigrationContext) -> ChangedAreas:
        """Snapshot the volume and return the blocks changed since the snapshot ``since`` (``ChangeTracking``).

        Args:
            vm: the instance.
            disk: the volume.
            since: the snapshot the replica committed last time, or None.
            ctx: the run; its transfer id tags the tracking snapshots, its run id lets cleanup remove an
                uncommitted one.
        """
        transfer = ctx.transfer_id or ctx.migration_id
        tags = {TRANSFER_TAG: transfer, VOLUME_TAG: disk.id, MIGRATION_TAG: ctx.migration_id,
                INSTANCE_TAG: ctx.instance[:255]}
        new = self._snapshot(disk.id, tags, None)
        self._tracking[(transfer, disk.id)] = new
        known = {s["SnapshotId"] for s in self._tracking_snapshots(transfer, disk.id)}
        for old in known - {since, new}:  # left by syncs that never committed, or older than the committed one
            delete_snapshot(self.aws, old)
        if not since or since not in known:
            return ChangedAreas(change_id=new, full=True)
        blocks = changed_blocks(self.aws, since, new)
        return ChangedAreas(change_id=new, extents=merge_blocks(list(blocks), disk.size_bytes))

    def read_areas(
        self, vm: VmInfo, disk: DiskInfo, areas: list[tuple[int, int]], ctx: MigrationContext
    ) -> Iterator[tuple[int, bytes]]:
        """The bytes of ``areas`` read from the snapshot this sync made (blocks it lacks read as zeros)."""
        snapshot_id = self._current(ctx, disk.id)
        if snapshot_id is None:
            raise ProviderError(f"volume {disk.id}: no snapshot of this sync to read from")
        tokens = listed_blocks(self.aws, snapshot_id)
        cached: tuple[int, bytes] = (-1, b"")
        for offset, length in areas:
            end = offset + length
            while offset < end:
                index = offset // BLOCK
                if cached[0] != index:
                    token = tokens.get(index)
                    data = get_block(self.aws, snapshot_id, index, token) if token else bytes(BLOCK)
                    cached = (index, data)
                take = min(end, (index + 1) * BLOCK) - offset
                yield offset, cached[1][offset - index * BLOCK:offset - index * BLOCK + take]
                offset += take

    # ------------------------------------------------------------------ cleanup

    def cleanup(self, ctx: MigrationContext) -> None:
        """Delete every snapshot this run made (export snapshots, an uncommitted tracking snapshot)."""
        for snap in self.aws.tagged("describe_snapshots", "Snapshots",
                                    {MIGRATION_TAG: ctx.migration_id, INSTANCE_TAG: ctx.instance[:255]},
                                    OwnerIds=["self"]):
            delete_snapshot(self.aws, snap["SnapshotId"])

    def delete_tracking(self, transfer_id: str, volume_id: str) -> None:
        """Remove every tracking snapshot a transfer keeps for a volume (when the transfer is deleted)."""
        for snap in self._tracking_snapshots(transfer_id, volume_id):
            delete_snapshot(self.aws, snap["SnapshotId"])


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> AwsExporter:
    """The aws exporter; the source environment is validated now, the connection info at first use."""
    try:
        options = load_source(source_environment)
    except ValidationError as exc:
        raise ProviderError(f"source_environment: {exc.messages}") from None
    return AwsExporter(dict(connection_info or {}), options)

