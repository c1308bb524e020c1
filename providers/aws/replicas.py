"""Transfer replicas as EBS snapshots (``SnapshotReplicaStore``): each sync a new snapshot, written whole or as
the changed blocks over the committed one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from conversion.checksum import StreamingDigest
from providers.abilities import ReplicaWrite
from providers.aws.blocks import BLOCK, delete_snapshot, file_blocks, regroup, snapshot_to_file, write_snapshot
from providers.aws.client import DISK_TAG, INSTANCE_TAG, REPLICA_TAG, SNAPSHOT, Aws, safe_name
from providers.aws.options import TargetOptions
from providers.types import DiskInfo, ProviderError, Reporter


class EbsReplicas:
    """The replica half of ``AwsImporter``; uses its ``aws`` clients and ``options``."""

    aws: Aws
    options: TargetOptions

    replica_block_size = BLOCK

    def _replica_tags(self, transfer_id: str, instance: str, disk_id: str | None = None) -> dict[str, str]:
        tags = {REPLICA_TAG: transfer_id, INSTANCE_TAG: instance[:255]}
        if disk_id is not None:
            tags[DISK_TAG] = disk_id
        return tags

    def write_replica(self, transfer_id: str, instance: str, disk: DiskInfo, parent: str | None,
                      source: Path | Iterator[tuple[int, bytes]], reporter: Reporter) -> ReplicaWrite:
        """A new snapshot replica of ``disk``: a raw file's data blocks on a fresh snapshot (``parent`` None), or
        the changed blocks (zeros included) over ``parent``. Other snapshots of this replica, left by syncs that
        never committed, are deleted first."""
        size = disk.size_bytes
        parent_id = parent.removeprefix(SNAPSHOT) if parent else None
        for snap in self.aws.tagged("describe_snapshots", "Snapshots",
                                    self._replica_tags(transfer_id, instance, disk.id), OwnerIds=["self"]):
            if snap["SnapshotId"] != parent_id:
                delete_snapshot(self.aws, snap["SnapshotId"])
        tags = self._replica_tags(transfer_id, instance, disk.id)
        tags["Name"] = safe_name(f"coriolis-replica-{transfer_id}-{instance}-{disk.id}")
        description = f"coriolis replica {transfer_id} {instance} {disk.id}"
        if parent_id is None:
            if not isinstance(source, Path):
                raise ProviderError("a replica without a parent is written from a whole disk")
            digest = StreamingDigest(size)
            stats = write_snapshot(self.aws, file_blocks(source, size, digest=digest), size, tags, description,
                                   reporter, f"writing replica of {disk.id}", self.options.parallel_writes,
                                   total=size, timeout=self.options.active_timeout)
            return ReplicaWrite(SNAPSHOT + stats.snapshot_id, stats.blocks_written, stats.bytes_written, True,
                                digest.hexdigest())
        if isinstance(source, Path):
            raise ProviderError("changed blocks over a parent snapshot come as pieces, not a whole disk")
        stats = write_snapshot(self.aws, regroup(source, size), size, tags, description, reporter,
                               f"writing changed blocks of {disk.id}", self.options.parallel_writes,
                               parent=parent_id, timeout=self.options.active_timeout)
        return ReplicaWrite(SNAPSHOT + stats.snapshot_id, stats.blocks_written, stats.bytes_written, False)

    def read_replica(self, location: str, size: int, out: Path, reporter: Reporter) -> str:
        """The replica snapshot's blocks (SHA-256 checked each) into the raw file ``out``; its content checksum."""
        snapshot_id = location.removeprefix(SNAPSHOT)
        digest, _count = snapshot_to_file(self.aws, snapshot_id, size, out, reporter,
                                          f"reading replica {snapshot_id}", self.options.parallel_writes)
        return digest

    def forget_replica(self, location: str) -> None:
        delete_snapshot(self.aws, location.removeprefix(SNAPSHOT))

    def delete_replicas(self, transfer_id: str, instance: str) -> None:
        """Every replica snapshot of the transfer's instance; safe to repeat."""
        for snap in self.aws.tagged("describe_snapshots", "Snapshots", self._replica_tags(transfer_id, instance),
                                    OwnerIds=["self"]):
            delete_snapshot(self.aws, snap["SnapshotId"])
