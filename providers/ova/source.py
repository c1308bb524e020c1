"""The ova exporter: lists OVAs and VMX folders; their VMDKs are checked and read in place, never copied."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import conversion
from conversion.member import reads_only_itself
from providers.ova import vmx
from providers.ova.archive import SIDE_FILES, ManifestEntry, OvaArchive
from providers.ova.ovf import OvfDescriptor, OvfDisk, parse_ovf
from providers.types import DiskInfo, DiskRef, InstanceNotFound, MigrationContext, ProviderError, Reporter, VmInfo

log = logging.getLogger(__name__)

MIB = 1 << 20
CREATED_LIST = ".ova-created"
VMDK_MAGIC = b"KDMV"
OVA_SUBFORMATS = ("streamOptimized", "monolithicSparse")
# VMware's own limit for a virtual disk (62 TiB): a descriptor claiming more is not a VMware disk,
# and is refused before any work is sized by its word
MAX_VMDK_BYTES = 62 << 40


Manifest = dict[str, ManifestEntry]


def _inspect_ova(
    path: Path, instance_id: str, *, require_manifest: bool, verify_manifest: bool
) -> tuple[OvfDescriptor, Manifest | None]:
    """Parse an OVA's OVF and cross-check it with the tar members and the manifest.

    Returns the descriptor and the manifest (None when absent or not to be verified).
    """
    with OvaArchive(path) as archive:
        ovf_name = archive.ovf_name
        ovf_bytes = archive.read_ovf()
        manifest = archive.manifest()
        try:
            desc = parse_ovf(ovf_bytes, instance_id)
        except ProviderError as exc:
            raise ProviderError(f"{path.name}: {exc}") from None
        for href, declared in desc.files.items():
            if href not in archive.members:
                raise ProviderError(f"{path.name}: the OVF references {href!r}, which is not in the archive")
            if declared is not None and declared != archive.size(href):
                raise ProviderError(
                    f"{path.name}: {href} is {archive.size(href)} bytes in the archive "
                    f"but the OVF says {declared}"
                )
        for name in archive.members:
            if name != ovf_name and not name.lower().endswith(SIDE_FILES) and name not in desc.files:
                raise ProviderError(f"{path.name}: member {name!r} is not referenced by the OVF")
        if manifest is None and require_manifest:
            raise ProviderError(f"{path.name}: the archive has no manifest (.mf) and one is required")
        if not verify_manifest:
            manifest = None
        if manifest is not None:
            for name in (ovf_name, *desc.files):
                if name not in manifest:
                    raise ProviderError(f"{path.name}: the manifest has no digest for {name}")
            entry = manifest[ovf_name]
            if hashlib.new(entry.algorithm, ovf_bytes).hexdigest() != entry.digest:
                raise ProviderError(f"{path.name}: {ovf_name} does not match its manifest digest")
    return desc, manifest


def _check_vmdk(
    path: Path, expected_size: int, label: str, *, inside: Path | None = None,
    member: conversion.Member | None = None,
) -> int:
    """Check a VMDK with qemu-img; returns its virtual size.

    ``inside``: every extent must lie in this directory (VMX folders). ``member``: the VMDK is that
    byte range of ``path`` (an OVA's tar member) and must be a single self-contained sparse extent.
    """
    try:
        info = conversion.info(path, "vmdk", member)
    except conversion.ConversionError as exc:
        raise ProviderError(f"{label} is not a valid VMDK: {exc.stderr or exc}") from None
    if info.backing_file:
        raise ProviderError(f"{label} has a parent disk (snapshot); consolidate snapshots first")
    if member is not None:
        if info.subformat not in OVA_SUBFORMATS or not reads_only_itself(info.extent_files, path, member):
            raise ProviderError(f"{label} is a {info.subformat} VMDK; an OVA disk must be one sparse file")
    elif inside is None:
        raise ProviderError(f"{label}: a VMDK is checked either inside its folder or as an OVA member")
    else:
        extents = [Path(os.path.realpath(f)) for f in info.extent_files]
        root = Path(os.path.realpath(inside))
        if not extents or any(root not in e.parents for e in extents):
            raise ProviderError(f"{label} points at extent files outside its folder; refused")
    if info.virtual_size != expected_size:
        raise ProviderError(
            f"{label} has virtual size {info.virtual_size} bytes but the VM says {expected_size}"
        )
    _check_size(info.virtual_size, label)
    return info.virtual_size


def _check_size(size: int, label: str) -> None:
    if size > MAX_VMDK_BYTES:
        raise ProviderError(
            f"{label} declares {size} bytes, more than a VMware disk can hold ({MAX_VMDK_BYTES} bytes); refused"
        )


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class OvaExporter:
    """Source provider over a directory of ``*.ova`` files and VMX folders.

    Instance ids are the entry names in that directory (``web.ova``, ``db-vm``).
    """

    chunk_size = 8 * MIB

    def __init__(
        self, path: str | Path, *, verify_manifest: bool = True, require_manifest: bool = False
    ) -> None:
        self.root = Path(path)
        self.verify_manifest = verify_manifest
        self.require_manifest = require_manifest

    def validate(self) -> None:
        """Check the directory exists and can be listed."""
        if not self.root.is_dir():
            raise ProviderError(f"{self.root} is not a directory")
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise ProviderError(f"{self.root} cannot be read")

    def _entries(self) -> dict[str, Path]:
        self.validate()
        found: dict[str, Path] = {}
        for entry in sorted(self.root.iterdir()):
            if entry.is_symlink():  # a link could lead out of the library (another project's, the host's)
                log.warning("skipping %s: a symbolic link", entry)
                continue
            if entry.is_file() and entry.suffix.lower() == ".ova":
                found[entry.name] = entry
            elif entry.is_dir() and any(entry.glob("*.vmx")):
                found[entry.name] = entry
        return found

    def _describe(self, instance_id: str, path: Path) -> VmInfo:
        if path.is_dir():
            return self._describe_vmx(instance_id, path)
        return self._inspect(path, instance_id)[0].vm

    def _inspect(self, path: Path, instance_id: str) -> tuple[OvfDescriptor, Manifest | None]:
        return _inspect_ova(
            path, instance_id, require_manifest=self.require_manifest, verify_manifest=self.verify_manifest
        )

    def _vmx_file(self, folder: Path) -> Path:
        files = sorted(folder.glob("*.vmx"))
        if len(files) != 1:
            raise ProviderError(f"{folder.name}: expected one .vmx file, found {len(files)}")
        return files[0]

    def _vmx_disk_path(self, folder: Path, file_name: str) -> Path:
        path = Path(os.path.realpath(folder / file_name))
        if Path(os.path.realpath(folder)) not in path.parents:
            raise ProviderError(f"{folder.name}: disk {file_name!r} is outside the VM folder; refused")
        if not path.is_file():
            raise ProviderError(f"{folder.name}: disk {file_name!r} is missing")
        return path

    def _describe_vmx(self, instance_id: str, folder: Path) -> VmInfo:
        keys = vmx.read_vmx(self._vmx_file(folder))
        disks = []
        for controller, file_name, unit in vmx.disk_files(keys):
            path = self._vmx_disk_path(folder, file_name)
            label = f"{folder.name}: {file_name}"
            try:
                size = conversion.info(path, "vmdk").virtual_size
            except conversion.ConversionError as exc:
                raise ProviderError(f"{label} is not a valid VMDK: {exc.stderr or exc}") from None
            _check_size(size, label)
            disks.append(vmx.disk_info(controller, file_name, unit, size))
        return vmx.vm_info(keys, instance_id, folder.name, disks)

    def list_instances(self) -> list[VmInfo]:
        """Every OVA and VMX folder that parses; broken ones are logged and skipped."""
        out = []
        for instance_id, path in self._entries().items():
            try:
                out.append(self._describe(instance_id, path))
            except ProviderError as exc:
                log.warning("skipping %s: %s", path, exc)
        return out

    def _find(self, instance: str) -> tuple[str, Path]:
        entries = self._entries()
        if instance in entries:
            return instance, entries[instance]
        stems = [i for i, p in entries.items() if p.is_file() and p.stem == instance]
        if len(stems) == 1:
            return stems[0], entries[stems[0]]
        named = [vm.id for vm in self.list_instances() if vm.name == instance]
        if len(named) > 1:
            raise ProviderError(f"several instances are named {instance!r}; use the id ({', '.join(named)})")
        if named:
            return named[0], entries[named[0]]
        raise InstanceNotFound(f"no OVA or VMX folder {instance!r} in {self.root}")

    def get_instance(self, instance: str) -> VmInfo:
        """An instance by id (entry name), OVA file stem or VM name."""
        return self._describe(*self._find(instance))

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """A reference to the disk where it lies, checked: an OVA's VMDK inside its tar, a VMX folder's VMDK."""
        instance_id, path = self._find(vm.id)
        if path.is_dir():
            return self._export_vmx(path, disk, reporter)
        desc, manifest = self._inspect(path, instance_id)
        matches = [d for d in desc.disks if d.disk_id == disk.id]
        if not matches:
            raise ProviderError(f"{path.name}: no disk {disk.id!r}")
        return self._export_ova_disk(path, matches[0], manifest, ctx, reporter)

    def _export_vmx(self, folder: Path, disk: DiskInfo, reporter: Reporter) -> DiskRef:
        keys = vmx.read_vmx(self._vmx_file(folder))
        for controller, file_name, unit in vmx.disk_files(keys):
            if vmx.disk_id(controller, unit) == disk.id:
                path = self._vmx_disk_path(folder, file_name)
                size = _check_vmdk(path, disk.size_bytes, f"{folder.name}: {file_name}", inside=folder)
                reporter.step(size, size, f"{disk.id}: used in place ({file_name})")
                return DiskRef(disk_id=disk.id, path=str(path), format="vmdk", size_bytes=size)
        raise ProviderError(f"{folder.name}: no disk {disk.id!r}")

    def _export_ova_disk(
        self, path: Path, disk: OvfDisk, manifest: Manifest | None, ctx: MigrationContext, reporter: Reporter
    ) -> DiskRef:
        """The VMDK inside the OVA, checked and then read in place by the conversion: nothing is copied out.

        The VMDK must be one sparse extent that reads nothing outside its own tar member. Its manifest
        digest goes with the reference: the conversion hashes the member's bytes on another core while
        it reads them, and fails if they differ (one read of the member from storage, not two).
        """
        label = f"{path.name}: {disk.href}"
        expected = manifest.get(disk.href) if manifest is not None else None
        with OvaArchive(path) as archive:
            offset, length = archive.span(disk.href)
        with open(path, "rb") as f:
            if os.pread(f.fileno(), len(VMDK_MAGIC), offset) != VMDK_MAGIC:
                raise ProviderError(f"{label} is not a VMDK (no sparse VMDK header)")
        member = conversion.Member(offset, length)
        size = _check_vmdk(path, disk.capacity_bytes, label, member=member)
        reporter.step(length, length, f"{disk.disk_id}: {disk.href} read in place from {path.name}")
        return DiskRef(
            disk.disk_id, str(path), "vmdk", size, member_offset=offset, member_length=length,
            member_digest=None if expected is None else f"{expected.algorithm}:{expected.digest}",
        )

    def cleanup(self, ctx: MigrationContext) -> None:
        """Remove staging files an earlier version copied out of an OVA (listed in ``.ova-created``); safe to repeat."""
        staging = Path(ctx.staging_dir)
        record = staging / CREATED_LIST
        if not record.exists():
            return
        for name in record.read_text(encoding="utf-8").splitlines():
            if name and "/" not in name and name not in (".", ".."):
                _remove(staging / name)
        _remove(record)
