"""The stub source: synthetic VMs whose disks hold deterministic pseudo-random data."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from providers.stub import inventory
from providers.stub.throttle import Throttle
from providers.types import (
    DiskInfo,
    DiskRef,
    InstanceNotFound,
    MigrationContext,
    NicInfo,
    ProviderError,
    Reporter,
    VmInfo,
)

CHUNK = 1 << 20


def chunk_bytes(seed: str, index: int) -> bytes:
    """1 MiB of data that depends only on the seed and the chunk index."""
    block = hashlib.sha512(f"{seed}:{index}".encode()).digest()
    return block * (CHUNK // len(block))


class StubExporter:
    """Exports synthetic disks: the first ``data_fraction`` of each disk is data, the rest holes."""

    def __init__(self, connection: dict[str, Any], environment: dict[str, Any]) -> None:
        self.names = connection.get("instances")
        self.templates = set(connection.get("templates") or ())
        self.connection = connection
        self.env = environment

    def list_networks(self) -> list[dict[str, Any]]:
        """The configured network names (``networks``)."""
        return inventory.list_networks(self.connection)

    def list_storage(self) -> list[dict[str, Any]]:
        """The configured storage backend names (``storage_backends``)."""
        return inventory.list_storage(self.connection)

    def validate(self) -> None:
        return None

    def list_instances(self) -> list[VmInfo]:
        return [self.get_instance(n) for n in self.names or ["stub-vm-1", "stub-vm-2", "stub-vm-3"]]

    def get_instance(self, instance: str) -> VmInfo:
        if self.names is not None and instance not in self.names:
            raise InstanceNotFound(f"instance {instance!r} not found")
        sizes = self.env["instance_disks"].get(instance) or [self.env["disk_size_mb"]] * self.env["disks"]
        mac_tail = hashlib.sha1(instance.encode()).hexdigest()[:6]
        backend = next(iter(self.connection.get("storage_backends") or ()), None)  # where the disks "live"
        return VmInfo(
            id=instance,
            name=instance,
            num_cpu=1,
            memory_mb=256,
            disks=tuple(DiskInfo(id=f"disk{n}", size_bytes=mb << 20, format="raw", storage_backend_identifier=backend)
                        for n, mb in enumerate(sizes)),
            nics=(NicInfo(mac_address="52:54:00:" + ":".join(mac_tail[i : i + 2] for i in (0, 2, 4)),
                          network_name="stub-net"),),
            guest_id="coriolis-stub",
            power_state="off",
            is_template=instance in self.templates,
        )

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        if self.env["fail_export"]:
            raise ProviderError("stub export failure requested (fail_export)")
        ctx.staging_dir.mkdir(parents=True, exist_ok=True)
        path = ctx.staging_dir / f"{disk.id}.raw"
        data_chunks = int(disk.size_bytes // CHUNK * self.env["data_fraction"])
        throttle = Throttle(self.env["rate_mbps"])
        message = f"exporting {disk.id}"
        try:
            with open(path, "wb") as out:
                mutated = set(self.env["mutated_chunks"])
                for n in range(data_chunks):
                    version = self.env["data_version"] if n in mutated else 0
                    out.write(chunk_bytes(f"{vm.id}/{disk.id}/v{version}", n))
                    throttle.add(CHUNK)
                    reporter.step((n + 1) * CHUNK, disk.size_bytes, message)
                out.truncate(disk.size_bytes)
                os.fsync(out.fileno())
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise
        reporter.step(disk.size_bytes, disk.size_bytes, message)
        return DiskRef(disk.id, str(path), self.env["claim_format"], disk.size_bytes)

    def power_off(self, vm: VmInfo) -> None:
        """Nothing to power off: a synthetic VM (the shutdown stage records that this ran)."""

    def cleanup(self, ctx: MigrationContext) -> None:
        for disk in ctx.staging_dir.glob("disk*.raw") if ctx.staging_dir.exists() else ():
            disk.unlink(missing_ok=True)
