"""The aws destination: disks written as EBS snapshots (EBS direct APIs), an AMI, an EC2 instance, data volumes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from conversion import checksum
from conversion.checksum import StreamingDigest
from providers.aws import lookup, sizes
from providers.aws.blocks import (
    GIB,
    delete_snapshot,
    file_blocks,
    volume_gib,
    write_snapshot,
)
from providers.aws.client import (
    CHECKSUM_TAG,
    DISK_TAG,
    INSTANCE_TAG,
    MIGRATION_TAG,
    SNAPSHOT,
    Aws,
    safe_name,
    tag_dict,
    tag_list,
    wait_for,
)
from providers.aws.options import TargetOptions, load_connection, load_target
from providers.aws.replicas import EbsReplicas
from providers.types import (
    BootResult,
    DiskRef,
    Firmware,
    ImportedInstance,
    MigrationContext,
    NicInfo,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

ROOT_DEVICE = "/dev/xvda"
DATA_DEVICES = [f"/dev/sd{c}" for c in "fghijklmnop"]
LIVE_STATES = ("pending", "running", "stopping", "stopped")


def snapshot_of(disk: DiskRef) -> str:
    if not disk.path.startswith(SNAPSHOT):
        raise ProviderError(f"disk {disk.disk_id} was not imported into an EBS snapshot ({disk.path})")
    return disk.path[len(SNAPSHOT):]


class AwsImporter(EbsReplicas):
    """Creates, in one region of an AWS account, what a migrated instance needs; deletes it on failure."""

    def __init__(self, connection_info: dict[str, Any], options: TargetOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._aws: Aws | None = None

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            try:
                connection = load_connection(self._connection_info)
            except ValidationError as exc:
                raise ProviderError(f"connection_info: {exc.messages}") from None
            self._aws = Aws(connection, max_pool=2 * self.options.parallel_writes + 4)
        return self._aws

    def tags(self, ctx: MigrationContext, **extra: str) -> dict[str, str]:
        """The tags every resource of this migration's instance carries."""
        return {MIGRATION_TAG: ctx.migration_id, INSTANCE_TAG: ctx.instance[:255], **extra}

    def name(self, ctx: MigrationContext) -> str:
        return safe_name(ctx.resource_name(ctx.instance))

    # ------------------------------------------------------------------ checks

    def validate(self) -> None:
        """Check the credentials and that the subnets, security groups, key pair and instance type exist."""
        aws, opts = self.aws, self.options
        aws.call("ec2", "describe_availability_zones")
        subnets = sorted({*opts.network_map.values(), *([opts.subnet_id] if opts.subnet_id else [])})
        if subnets:
            found = {s["SubnetId"] for s in aws.pages("describe_subnets", "Subnets", SubnetIds=subnets)}
            if missing := [s for s in subnets if s not in found]:
                raise ProviderError(f"subnet(s) {', '.join(missing)} do not exist")
        if opts.security_group_ids:
            aws.call("ec2", "describe_security_groups", GroupIds=opts.security_group_ids)
        if opts.key_name:
            aws.call("ec2", "describe_key_pairs", KeyNames=[opts.key_name])
        if opts.instance_type:
            aws.call("ec2", "describe_instance_types", InstanceTypes=[opts.instance_type])

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """Raw disks on NVMe, ENA NICs, the source's firmware, cloud-init's Ec2 datasource."""
        return TargetProfile(disk_format="raw", disk_bus="nvme", nic_model="ena", firmware=vm.firmware_type,
                             cloud_init_datasources=("Ec2",))

    # ------------------------------------------------------------------ disks

    def _disk_snapshots(self, ctx: MigrationContext, disk_id: str) -> list[dict[str, Any]]:
        return self.aws.tagged("describe_snapshots", "Snapshots", self.tags(ctx, **{DISK_TAG: disk_id}),
                               OwnerIds=["self"])

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Write ``disk`` (raw) into a new EBS snapshot, non-zero 512 KiB blocks only, several in flight.

        A completed snapshot of this migration already holding the same content (a redelivered task) is
        reused; other snapshots of the disk left by an earlier attempt are deleted first.

        Args:
            vm: the source instance.
            disk: the converted, morphed raw disk in staging.
            ctx: the migration (its id tags the snapshot).
            reporter: bytes written; ``Cancelled`` deletes the pending snapshot and propagates.
        """
        if disk.format != "raw":
            raise ProviderError(f"disk {disk.disk_id} is {disk.format}; the aws destination takes raw disks")
        path = Path(disk.path)
        if not path.is_file():
            raise ProviderError(f"disk {disk.disk_id}: {path} does not exist")
        size = max(disk.size_bytes, path.stat().st_size)
        content: str | None = None
        for snap in self._disk_snapshots(ctx, disk.disk_id):
            mark = tag_dict(snap.get("Tags")).get(CHECKSUM_TAG)
            if snap["State"] == "completed" and mark:
                content = content or checksum(path, "raw")
                if mark == content:
                    reporter.info(f"snapshot {snap['SnapshotId']} already holds disk {disk.disk_id}; reused")
                    return DiskRef(disk.disk_id, SNAPSHOT + snap["SnapshotId"], "raw", size, content)
            reporter.info(f"removing snapshot {snap['SnapshotId']} of an earlier attempt ({snap['State']})")
            delete_snapshot(self.aws, snap["SnapshotId"])
        tags = self.tags(ctx, **{DISK_TAG: disk.disk_id, "Name": f"{self.name(ctx)}-{disk.disk_id}"[:255]})
        digest = StreamingDigest(size)
        message = f"writing disk {disk.disk_id} to an EBS snapshot"
        stats = write_snapshot(self.aws, file_blocks(path, size, digest=digest), size, tags,
                               f"coriolis {ctx.migration_id} {ctx.instance} {disk.disk_id}", reporter, message,
                               self.options.parallel_writes, total=size, timeout=self.options.active_timeout)
        content = digest.hexdigest()
        # the content checksum of what was written, once the snapshot is complete: a redelivered task reuses it
        self.aws.call("ec2", "create_tags", Resources=[stats.snapshot_id], Tags=tag_list({CHECKSUM_TAG: content}))
        reporter.info(f"disk {disk.disk_id}: snapshot {stats.snapshot_id}, {stats.blocks_written} blocks "
                      f"({stats.bytes_written} bytes) written, zero blocks skipped; content checksum {content}")
        return DiskRef(disk.disk_id, SNAPSHOT + stats.snapshot_id, "raw", size, content)

    # ------------------------------------------------------------------ instance

    def _image(self, vm: VmInfo, root: DiskRef, ctx: MigrationContext, reporter: Reporter) -> str:
        name = self.name(ctx)
        for image in self.aws.tagged("describe_images", "Images", self.tags(ctx), Owners=["self"]):
            if image.get("State") in ("available", "pending") and image.get("Name") == name:
                return image["ImageId"]
            self.aws.delete("deregister_image", ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"),
                            ImageId=image["ImageId"])
        uefi = vm.firmware_type == Firmware.EFI
        tags = self.tags(ctx, Name=name)
        image_id = self.aws.call(
            "ec2", "register_image", Name=name, Description=f"coriolis migration {ctx.migration_id}",
            Architecture=self.options.architecture, RootDeviceName=ROOT_DEVICE, VirtualizationType="hvm",
            EnaSupport=True, SriovNetSupport="simple", BootMode="uefi" if uefi else "legacy-bios",
            BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": {
                "SnapshotId": snapshot_of(root), "VolumeSize": volume_gib(root.size_bytes),
                "VolumeType": self.options.volume_type, "DeleteOnTermination": True}}],
            TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(tags)}],
        )["ImageId"]
        self.aws.call("ec2", "create_tags", Resources=[image_id], Tags=tag_list(tags))
        reporter.info(f"image {name} ({image_id}) registered from {root.path}, boot mode "
                      f"{'uefi' if uefi else 'legacy-bios'}, ENA")
        return image_id

    def _default_subnet(self) -> str:
        subnets = self.aws.pages("describe_subnets", "Subnets",
                                 Filters=[{"Name": "default-for-az", "Values": ["true"]}])
        if not subnets:
            raise ProviderError("no subnet_id given and the region has no default subnet")
        return sorted(subnets, key=lambda s: s.get("AvailabilityZone", ""))[0]["SubnetId"]

    def subnets_for(self, nics: tuple[NicInfo, ...]) -> list[str]:
        """The subnet of each source NIC (the network map, then ``*``, then ``subnet_id``/the default subnet)."""
        fallback: str | None = self.options.network_map.get("*") or self.options.subnet_id
        out = []
        for nic in nics or (None,):
            subnet = self.options.network_map.get(nic.network_name) if nic else None
            if subnet is None:
                fallback = fallback or self._default_subnet()
                subnet = fallback
            out.append(subnet)
        return out

    def instance_type(self, vm: VmInfo) -> str:
        if self.options.instance_type:
            return self.options.instance_type
        types = self.aws.instance_types()
        return sizes.best_fit(types, vm.num_cpu, vm.memory_mb, self.options.architecture)

    def _mine(self, ctx: MigrationContext, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return self.aws.tagged(operation, key, self.tags(ctx), **params)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """Register an AMI from the boot disk's snapshot, run an instance on the mapped subnets, wait for it to
        run, and attach the other disks as volumes made from their snapshots.

        Args:
            vm: the source instance (CPUs, memory, firmware, NICs and their networks).
            disks: what ``import_disk`` returned, boot disk first.
            ctx: the migration; names and tags everything.
            reporter: progress while resources become ready; ``Cancelled`` propagates (cleanup deletes).
        """
        if not disks:
            raise ProviderError("no disks to boot from")
        if len(disks) - 1 > len(DATA_DEVICES):
            raise ProviderError(f"at most {len(DATA_DEVICES) + 1} disks can be attached")
        aws, opts, name = self.aws, self.options, self.name(ctx)
        image_id = self._image(vm, disks[0], ctx, reporter)
        wait_for(lambda: next(iter(aws.call("ec2", "describe_images", ImageIds=[image_id])["Images"]), None),
                 lambda i: i["State"] == "available", lambda i: i["State"] in ("failed", "error"),
                 opts.active_timeout, reporter, f"image {image_id}")
        itype = self.instance_type(vm)
        subnets = self.subnets_for(vm.nics)
        instance = next((i for i in self._mine(ctx, "describe_instances", "Instances")
                         if i["State"]["Name"] in LIVE_STATES), None)
        if instance is None:
            tags = tag_list(self.tags(ctx, Name=name))
            params: dict[str, Any] = {
                "ImageId": image_id, "InstanceType": itype, "MinCount": 1, "MaxCount": 1,
                "ClientToken": hashlib.sha256(name.encode()).hexdigest()[:64],
                "NetworkInterfaces": [
                    {"DeviceIndex": i, "SubnetId": s, "DeleteOnTermination": True,
                     **({"Groups": opts.security_group_ids} if opts.security_group_ids else {})}
                    for i, s in enumerate(subnets)],
                "TagSpecifications": [{"ResourceType": t, "Tags": tags}
                                      for t in ("instance", "volume", "network-interface")],
            }
            if opts.key_name:
                params["KeyName"] = opts.key_name
            instance = aws.call("ec2", "run_instances", **params)["Instances"][0]
            reporter.info(f"instance {name} ({instance['InstanceId']}, {itype}) started on {', '.join(subnets)}")
        instance_id = instance["InstanceId"]
        instance = self._wait_running(instance_id, reporter)
        zone = instance["Placement"]["AvailabilityZone"]
        volumes = [self._data_volume(disk, instance_id, zone, DATA_DEVICES[n], ctx, reporter)
                   for n, disk in enumerate(disks[1:])]
        return ImportedInstance(
            id=instance_id, name=name, disks=tuple(disks),
            details={
                "instance_id": instance_id, "image_id": image_id, "instance_type": itype,
                "state": instance["State"]["Name"], "availability_zone": zone, "subnet_ids": subnets,
                "security_group_ids": list(opts.security_group_ids), "key_name": opts.key_name,
                "snapshot_ids": [snapshot_of(d) for d in disks], "volume_ids": volumes,
                "boot_mode": "uefi" if vm.firmware_type == Firmware.EFI else "legacy-bios",
            },
        )

    def _wait_running(self, instance_id: str, reporter: Reporter) -> dict[str, Any]:
        return wait_for(lambda: self.aws.instance(instance_id), lambda i: i["State"]["Name"] == "running",
                        lambda i: i["State"]["Name"] in ("shutting-down", "terminated", "stopped"),
                        self.options.active_timeout, reporter, f"instance {instance_id}")

    def _data_volume(self, disk: DiskRef, instance_id: str, zone: str, device: str, ctx: MigrationContext,
                     reporter: Reporter) -> str:
        aws = self.aws
        found = [v for v in aws.tagged("describe_volumes", "Volumes", self.tags(ctx, **{DISK_TAG: disk.disk_id}))
                 if v["State"] in ("creating", "available", "in-use")]
        volume = next((v for v in found if v.get("SnapshotId") == snapshot_of(disk)), None)
        if volume is None:
            tags = self.tags(ctx, **{DISK_TAG: disk.disk_id, "Name": f"{self.name(ctx)}-{disk.disk_id}"[:255]})
            volume = aws.call("ec2", "create_volume", SnapshotId=snapshot_of(disk), AvailabilityZone=zone,
                              VolumeType=self.options.volume_type, Size=max(volume_gib(disk.size_bytes), 1),
                              TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list(tags)}])
            reporter.info(f"volume {volume['VolumeId']} ({-(-disk.size_bytes // GIB)} GiB) from {disk.path}")
        volume_id = volume["VolumeId"]
        volume = wait_for(lambda: aws.volume(volume_id), lambda v: v["State"] in ("available", "in-use"),
                          lambda v: v["State"] == "error", self.options.active_timeout, reporter,
                          f"volume {volume_id}")
        if not any(a.get("InstanceId") == instance_id for a in volume.get("Attachments", [])):
            aws.call("ec2", "attach_volume", VolumeId=volume_id, InstanceId=instance_id, Device=device)
        wait_for(lambda: aws.volume(volume_id), lambda v: v["State"] == "in-use",
                 lambda v: v["State"] == "error", self.options.active_timeout, reporter, f"volume {volume_id}")
        return volume_id

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """The instance is running (EC2's state; no console check: EC2 gives its console only after boot)."""
        started = time.monotonic()
        running = self._wait_running(instance.id, reporter)
        return BootResult(booted=True, seconds=time.monotonic() - started,
                          message=f"instance {instance.id} is {running['State']['Name']} (EC2 state; no console)")

    # ------------------------------------------------------------------ cleanup

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """Instance types, subnets, security groups and key pairs of the region (``OptionLookup``)."""
        return lookup.destination_options(self.aws, self.options.architecture, names)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Terminate the instances, delete the volumes, images and snapshots of this migration's instance (found
        by their tags); safe to repeat."""
        aws, errors = self.aws, []
        steps = (("instances", self._delete_instances), ("volumes", self._delete_volumes),
                 ("images", self._delete_images), ("snapshots", self._delete_snapshots))
        for what, step in steps:
            try:
                step(ctx)
            except ProviderError as exc:  # keep deleting the rest, then say what was left
                errors.append(f"{what}: {exc}")
        del aws
        if errors:
            raise ProviderError("cleanup left resources behind: " + "; ".join(errors))

    def _delete_instances(self, ctx: MigrationContext) -> None:
        live = [i["InstanceId"] for i in self._mine(ctx, "describe_instances", "Instances")
                if i["State"]["Name"] not in ("terminated", "shutting-down")]
        if live:
            self.aws.call("ec2", "terminate_instances", InstanceIds=live)
        for instance_id in live:
            wait_for(lambda i=instance_id: self.aws.instance(i) or {"State": {"Name": "terminated"}},
                     lambda i: i["State"]["Name"] == "terminated", lambda i: False,
                     self.options.active_timeout, None, f"instance {instance_id} termination")

    def _delete_volumes(self, ctx: MigrationContext) -> None:
        for volume in self._mine(ctx, "describe_volumes", "Volumes"):
            for attachment in volume.get("Attachments", []):
                if attachment.get("State") in ("attached", "attaching"):
                    self.aws.call("ec2", "detach_volume", VolumeId=volume["VolumeId"],
                                  InstanceId=attachment["InstanceId"], Force=True)
            self.aws.delete("delete_volume", ("InvalidVolume.NotFound",), VolumeId=volume["VolumeId"])

    def _delete_images(self, ctx: MigrationContext) -> None:
        for image in self._mine(ctx, "describe_images", "Images", Owners=["self"]):
            self.aws.delete("deregister_image", ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"),
                            ImageId=image["ImageId"])

    def _delete_snapshots(self, ctx: MigrationContext) -> None:
        for snap in self._mine(ctx, "describe_snapshots", "Snapshots", OwnerIds=["self"]):
            delete_snapshot(self.aws, snap["SnapshotId"])


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> AwsImporter:
    """The aws importer; the target environment is validated now, the connection info at first use."""
    try:
        options = load_target(target_environment)
    except ValidationError as exc:
        raise ProviderError(f"target_environment: {exc.messages}") from None
    return AwsImporter(dict(connection_info or {}), options)
