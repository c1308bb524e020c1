"""The kvm exporter: libvirt domains from a directory of XMLs, disks read in place, changes tracked by qcow2 bitmaps.

Change tracking (``changed_areas``): each sync of a transfer adds an enabled persistent bitmap
``coriolis.<transfer>.<n>`` to every qcow2 disk before it reads it, and reports the dirty
extents of the bitmap named by the change id the replica committed last time. That older
bitmap, and any left by a sync that never committed, are removed at the next sync, once the
replica's state names the newer one. Raw disks, and qcow2 disks whose committed bitmap is gone
or was left inconsistent by a crashed writer, answer ``full=True`` (the sync compares hashes).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from providers.abilities import ChangedAreas
from providers.kvm import bitmaps
from providers.kvm.inventory import Domain, parse_domain
from providers.kvm.nbd import MAX_READ, NbdClient, exported
from providers.kvm.options import ConnectionSchema, SourceEnvironmentSchema
from providers.types import (
    DiskInfo,
    DiskRef,
    InstanceNotFound,
    MigrationContext,
    ProviderError,
    Reporter,
    VmInfo,
)

log = logging.getLogger(__name__)


class KvmExporter:
    """Source provider over ``domains_dir``: instance ids are the XML file stems (``web`` for ``web.xml``)."""

    def __init__(self, domains_dir: str | Path, image_dirs: tuple[str, ...] = (), change_tracking: bool = True) -> None:
        self.root = Path(domains_dir)
        self.image_roots = (self.root, *(Path(d) for d in image_dirs))
        self.change_tracking = change_tracking

    def validate(self) -> None:
        """Check the directory exists and can be listed."""
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.X_OK):
            raise ProviderError(f"{self.root} is not a readable directory")

    def _xml_files(self) -> list[Path]:
        self.validate()
        return sorted(p for p in self.root.glob("*.xml") if p.is_file())

    def _domain(self, instance: str) -> Domain:
        if "/" not in instance and instance not in (".", ".."):
            path = self.root / f"{instance}.xml"
            if path.is_file():
                return parse_domain(path, self.image_roots)
        for path in self._xml_files():
            try:
                domain = parse_domain(path, self.image_roots)
            except ProviderError:
                continue
            if instance == domain.vm.name:
                return domain
        raise InstanceNotFound(f"no domain {instance!r} in {self.root}")

    def list_instances(self) -> list[VmInfo]:
        """Every domain whose XML parses (others are logged and skipped)."""
        out = []
        for path in self._xml_files():
            try:
                out.append(parse_domain(path, self.image_roots).vm)
            except ProviderError as exc:
                log.warning("skipping %s: %s", path.name, exc)
        return out

    def get_instance(self, instance: str) -> VmInfo:
        """A domain by XML file stem or domain name."""
        return self._domain(instance).vm

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """The disk file itself, used in place (it is only ever read)."""
        found = self._domain(vm.id).disk(disk.id)
        reporter.step(disk.size_bytes, disk.size_bytes, f"{disk.id}: used in place ({found.path.name})")
        return DiskRef(disk.id, str(found.path), found.format, disk.size_bytes)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Nothing to remove: disks are read in place, bitmaps belong to the transfer's next sync."""

    # change tracking ---------------------------------------------------------------------------

    @staticmethod
    def _prefix(ctx: MigrationContext) -> str:
        return f"{bitmaps.PREFIX}{ctx.transfer_id or ctx.migration_id}."

    def changed_areas(self, vm: VmInfo, disk: DiskInfo, since: str | None, ctx: MigrationContext) -> ChangedAreas:
        """Start a new bitmap on the disk and return the extents dirty in the bitmap ``since`` names.

        Args:
            vm: the instance.
            disk: the disk.
            since: the change id (bitmap name) the replica committed last time, or None.
            ctx: the run; its transfer id keys the bitmaps, so transfers of one domain never mix.
        """
        found = self._domain(vm.id).disk(disk.id)
        if found.format != "qcow2" or not self.change_tracking:
            return ChangedAreas(change_id="", full=True)  # nothing written to the source image
        prefix = self._prefix(ctx)
        present = {b.name: b for b in bitmaps.list_bitmaps(found.path)}
        base = present.get(since or "")
        if base is not None and not base.consistent:
            log.warning("%s: bitmap %s was left inconsistent by a crashed writer; full sync", found.path, since)
            base = None
        # The committed bitmap stays until the replica names a newer one; the rest are leftovers.
        bitmaps.remove(found.path, [n for n in present if n.startswith(prefix) and (base is None or n != base.name)])
        name = f"{prefix}{uuid.uuid4().hex[:12]}"
        bitmaps.add(found.path, name)
        if base is None or not since or not since.startswith(prefix):
            return ChangedAreas(change_id=name, full=True)
        return ChangedAreas(change_id=name, extents=bitmaps.dirty_extents(found.path, base.name))

    def read_areas(
        self, vm: VmInfo, disk: DiskInfo, areas: list[tuple[int, int]], ctx: MigrationContext
    ) -> Iterator[tuple[int, bytes]]:
        """The bytes of ``areas``, read from the disk in place through a read-only NBD export."""
        found = self._domain(vm.id).disk(disk.id)
        with exported(found.path, found.format) as sock, NbdClient(sock) as client:
            for offset, length in areas:
                end = min(offset + length, client.size)
                while offset < end:
                    take = min(MAX_READ, end - offset)
                    yield offset, client.read(offset, take)
                    offset += take


def make_exporter(connection_info: dict[str, Any], source_environment: dict[str, Any]) -> KvmExporter:
    """The kvm exporter over ``connection_info['domains_dir']``, read as ``source_environment`` says.

    Raises:
        ProviderError: the options do not validate, or name no domains directory.
    """
    try:
        conn = ConnectionSchema().load(connection_info or {})
        env = SourceEnvironmentSchema().load(source_environment or {})
    except ValidationError as exc:
        raise ProviderError(f"invalid kvm options: {exc.messages}") from exc
    if not conn.get("domains_dir"):
        raise ProviderError("the kvm source needs domains_dir in its connection info")
    return KvmExporter(conn["domains_dir"], tuple(conn.get("image_dirs") or ()), env["change_tracking"])
