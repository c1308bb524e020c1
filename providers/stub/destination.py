"""The stub destination: a directory of disk files; its 'boot' verifies every disk's content."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from providers import localpaths
from providers.stub import inventory
from providers.stub.throttle import Throttle
from providers.types import (
    BootResult,
    DiskRef,
    ImportedInstance,
    MigrationContext,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

CHUNK = 4 << 20


class StubImporter:
    """Copies disks into ``storage_dir/coriolis-<migration>-<instance>/``."""

    def __init__(self, connection: dict[str, Any], environment: dict[str, Any]) -> None:
        self.root = Path(connection["storage_dir"])
        self.connection = connection
        self.env = environment

    def _dir(self, ctx: MigrationContext) -> Path:
        return self.root / ctx.resource_name(ctx.staging_dir.name)

    def replica_dir(self, transfer_id: str, instance: str) -> Path:
        # one directory per instance whatever its name holds (a VMware path has slashes); the digest keeps
        # two names that differ only in replaced characters apart
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", instance)[:64]
        digest = hashlib.sha256(instance.encode()).hexdigest()[:8]
        return self.root / f"coriolis-replica-{transfer_id}-{safe}-{digest}"

    def delete_replicas(self, transfer_id: str, instance: str) -> None:
        shutil.rmtree(self.replica_dir(transfer_id, instance), ignore_errors=True)

    def list_networks(self) -> list[dict[str, Any]]:
        """The configured network names (``networks``)."""
        return inventory.list_networks(self.connection)

    def list_storage(self) -> list[dict[str, Any]]:
        """The configured storage backend names (``storage_backends``)."""
        return inventory.list_storage(self.connection)

    def validate(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        return TargetProfile(disk_format=self.env["disk_format"], morph=self.env["morph"], cloud_init_datasources=())

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        if self.env["fail_import"]:
            raise ProviderError("stub import failure requested (fail_import)")
        out_dir = self._dir(ctx)
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / Path(disk.path).name
        throttle = Throttle(self.env["rate_mbps"])
        size = Path(disk.path).stat().st_size
        done = 0
        with open(disk.path, "rb") as src, localpaths.create_private(out, os.fstat(src.fileno()).st_mode) as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                done += len(chunk)
                throttle.add(len(chunk))
                reporter.step(done, size, f"importing {disk.disk_id}")
        return DiskRef(disk.disk_id, str(out), disk.format, disk.size_bytes, disk.checksum)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        out_dir = self._dir(ctx)
        name = ctx.resource_name(ctx.staging_dir.name)
        (out_dir / "instance.json").write_text(json.dumps({"vm": vm.to_dict(), "disks": [d.to_dict() for d in disks]}))
        return ImportedInstance(id=name, name=name, disks=tuple(disks), details={"path": str(out_dir)})

    def create_template(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """A template's disks kept as the stub's images (``template.json``); nothing to boot."""
        out_dir = self._dir(ctx)
        (out_dir / "template.json").write_text(json.dumps({"vm": vm.to_dict(), "disks": [d.to_dict() for d in disks]}))
        return ImportedInstance(id=vm.name, name=vm.name, disks=tuple(disks),
                                details={"path": str(out_dir), "template": True})

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        from conversion import checksum

        if self.env["fail_boot"]:
            return BootResult(False, None, "stub boot failure requested (fail_boot)")
        for n, disk in enumerate(instance.disks):
            reporter.step(n, len(instance.disks), "verifying imported disks")
            if disk.checksum and checksum(Path(disk.path), disk.format) != disk.checksum:
                return BootResult(False, None, f"disk {disk.disk_id} content differs from the source")
        return BootResult(True, 0.0, f"stub instance verified: {len(instance.disks)} disk(s) intact")

    def cleanup(self, ctx: MigrationContext) -> None:
        shutil.rmtree(self._dir(ctx), ignore_errors=True)
