"""The hyperv exporter: inventory over WinRM, disks read over SMB through a production checkpoint."""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

import conversion
from providers import netpolicy
from providers.abilities import ChangedAreas
from providers.hyperv import checkpoints, rct
from providers.hyperv.client import WinRMClient
from providers.hyperv.host import HypervHost
from providers.hyperv.inventory import PASSTHROUGH, describe
from providers.hyperv.options import ConnectionSchema, SourceEnvironmentSchema
from providers.hyperv.smb import MIB, SmbReader, file_format, unc_path
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

CREATED_LIST = ".hyperv-created"
SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _record(staging: Path, *names: str) -> None:
    with open(staging / CREATED_LIST, "a", encoding="utf-8") as f:
        f.writelines(f"{n}\n" for n in names)


class WinRMExporter:
    """What the hyperv and scvmm sources share: options, inventory, checkpointed export over SMB, cleanup.

    Instance ids are VM ids (GUIDs); unique names are accepted too.
    """

    provider = "hyperv"
    connection_schema: type[Schema] = ConnectionSchema
    environment_schema: type[Schema] = SourceEnvironmentSchema

    def __init__(self, connection_info: dict[str, Any], source_environment: dict[str, Any] | None = None) -> None:
        self._connection_info = dict(connection_info or {})
        self._source_environment = dict(source_environment or {})

    @functools.cached_property
    def _options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            return (self.connection_schema().load(self._connection_info),
                    self.environment_schema().load(self._source_environment))
        except ValidationError as exc:
            messages = exc.messages
            if isinstance(messages, dict):
                messages = {k: v for k, v in messages.items() if k not in ("password", "smb_password")}
            raise ProviderError(f"invalid {self.provider} options: {messages or 'a password is invalid'}") from None

    @property
    def conn(self) -> dict[str, Any]:
        return self._options[0]

    @property
    def env(self) -> dict[str, Any]:
        return self._options[1]

    def _client(self) -> WinRMClient:
        conn = self.conn
        port = conn["port"] or (5986 if conn["scheme"] == "https" else 5985)
        return WinRMClient(
            conn["host"], port, conn["username"], conn["password"], transport=conn["transport"],
            scheme=conn["scheme"], allow_untrusted=conn["allow_untrusted"], timeout=self.env["timeout_seconds"],
        )

    def _host(self) -> HypervHost:
        return HypervHost(self._client(), self.env["timeout_seconds"])

    def _smb(self, server: str) -> SmbReader:
        conn = self.conn
        return SmbReader(server, conn["smb_username"] or conn["username"],
                         conn["password"] if conn["smb_password"] is None else conn["smb_password"],
                         port=conn["smb_port"])

    def validate(self) -> None:
        """Run a script on the host (credentials, Hyper-V module) and open an SMB session to it."""
        about = self._host().about()
        if not about.get("Name"):
            raise ProviderError(f"{self.conn['host']} answered without Hyper-V host details")
        with self._smb(self.conn["host"]) as smb:
            folder = about.get("VirtualHardDiskPath")
            if folder:
                smb.check_share(unc_path(self.conn["host"], folder, self.conn["smb_shares"]))

    def list_instances(self, name_filter: str | None = None) -> list[VmInfo]:
        """Every VM (optionally only names containing ``name_filter``), read a page of VMs per call."""
        needle = name_filter or self.env["name_filter"] or ""
        host, size = self._host(), self.env["page_size"]
        out: dict[str, VmInfo] = {}
        skip = 0
        while True:
            page = host.list_page(needle, skip, size)
            for obj in page:
                try:
                    vm = describe(obj)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("skipping a VM the host described oddly: %s", exc)
                    continue
                out[vm.id] = vm
            if len(page) < size:
                break
            skip += size
        return sorted(out.values(), key=lambda v: (v.name, v.id))

    def _find(self, host: Any, instance: str) -> dict[str, Any]:
        found = host.find(instance)
        if not found:
            raise InstanceNotFound(f"{self.provider} has no VM {instance!r}")
        if len(found) > 1:
            raise ProviderError(f"{len(found)} VMs are named {instance!r}: use the VM id")
        return found[0]

    def get_instance(self, instance: str) -> VmInfo:
        """A VM by id or unique name."""
        return describe(self._find(self._host(), instance))

    def list_networks(self) -> list[dict[str, Any]]:
        """Virtual switches, for network maps (``NetworkInventory``)."""
        return self._host().networks()

    def list_storage(self) -> list[dict[str, Any]]:
        """The host's default virtual hard disk folder."""
        folder = self._host().about().get("VirtualHardDiskPath")
        return [{"id": folder, "name": folder}] if folder else []

    def source_host_key(self, vm: VmInfo) -> str:
        """The host disk reads load: ``hyperv:<host>``."""
        return f"{self.provider}:{self.conn['host']}"

    def power_off(self, vm: VmInfo) -> None:
        """Shut the VM down through its integration services (``Stop-VM -Force``); ``PowerControl``."""
        state = self._host().power_off(vm.id)
        if state.lower() not in ("off", "poweroff", "stopped"):
            raise ProviderError(f"VM {vm.name} is {state or 'in an unknown state'} after shutdown")

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Copy a disk file into ``ctx.staging_dir`` over SMB: through checkpoint ``coriolis-<migration>``, or cold.

        With a checkpoint the parent VHD/VHDX is read while the checkpoint's AVHDX takes the
        writes; the checkpoint is removed (merged) afterwards whatever happens. Pass-through
        disks and disks on a differencing chain are refused.
        """
        staging = Path(ctx.staging_dir)
        staging.mkdir(parents=True, exist_ok=True)
        stem = f"disk-{SAFE.sub('_', disk.id)}"
        for fmt in ("vhdx", "vhd"):
            final = staging / f"{stem}.{fmt}"
            if final.exists() and self._verifies(final, fmt, disk.size_bytes):
                reporter.info(f"{disk.id}: {final.name} already exported and verified; not copied again")
                return DiskRef(disk.id, str(final), fmt, conversion.info(final, fmt).virtual_size)
        host = self._host()
        raw = self._find(host, vm.id)
        current = describe(raw)
        try:
            now = current.disk(disk.id)
        except KeyError:
            raise ProviderError(f"VM {current.name} has no disk {disk.id}") from None
        # with a checkpoint the current file may be the AVHDX of this migration's own checkpoint (another disk's
        # task took it): whether the disk sits on a differencing chain is judged on the file the checkpoint froze
        fmt = self._readable(current, now, cold=self.env["power_off"])
        server = host.disk_server(raw, self.conn["host"])
        if self.env["power_off"]:
            if current.power_state not in ("off", "poweroff"):
                reporter.info(f"shutting {current.name} down for a cold export")
                self.power_off(current)
            return self._read(server, str(now.path), fmt, now, staging, stem, reporter)
        name = checkpoints.checkpoint_name(ctx.migration_id)
        with checkpoints.shared_checkpoint(
                host, current.id, name, self.env["checkpoint_type"], ctx.shared, disk.id) as paths:
            path = paths.get(disk.id)
            if not path:
                raise ProviderError(f"checkpoint {name} of {current.name} holds no disk {disk.id}")
            if path.lower().endswith((".avhdx", ".avhd")):
                raise ProviderError(
                    f"disk {disk.id} of {current.name} is a differencing disk ({path}): the VM has other "
                    "checkpoints; delete them (Hyper-V merges the AVHDX chain) and retry")
            reporter.info(f"reading disk {disk.id} ({path}) while checkpoint {name} of {current.name} holds writes")
            ref = self._read(server, path, fmt, now, staging, stem, reporter)
        reporter.info(f"disk {disk.id} read; checkpoint {name} removed")
        return ref

    def _readable(self, vm: VmInfo, disk: DiskInfo, cold: bool) -> str:
        """The disk's file format, or a clear refusal for what cannot be read over SMB (``cold``: read as it is)."""
        if disk.allocation_type == PASSTHROUGH:
            raise ProviderError(f"disk {disk.id} of {vm.name} is a pass-through physical disk: it has no "
                                "VHD/VHDX file to read; copy it into a virtual disk first")
        if not disk.path:
            raise ProviderError(f"disk {disk.id} of {vm.name} has no file")
        if cold and (disk.allocation_type == "differencing" or disk.path.lower().endswith((".avhdx", ".avhd"))):
            parent = f" over {disk.storage_backend_identifier}" if disk.storage_backend_identifier else ""
            raise ProviderError(
                f"disk {disk.id} of {vm.name} is a differencing disk ({disk.path}{parent}): the VM has "
                "checkpoints; delete them (Hyper-V merges the AVHDX chain) and retry")
        fmt = file_format(disk.path) if disk.path.lower().endswith((".avhdx", ".avhd")) else disk.format
        fmt = fmt or file_format(disk.path)
        if fmt not in ("vhdx", "vhd"):
            raise ProviderError(f"disk {disk.id} of {vm.name} is not a VHD or VHDX file ({disk.path})")
        return fmt

    def _read(self, server: str, path: str, fmt: str, disk: DiskInfo, staging: Path, stem: str,
              reporter: Reporter) -> DiskRef:
        unc = unc_path(server, path, self.conn["smb_shares"])
        smb_server = unc.split("\\")[2]  # a share named in smb_shares, or a VM on SMB3 storage, may be elsewhere
        try:
            netpolicy.check_host(smb_server)
        except netpolicy.HostNotAllowed as exc:
            raise ProviderError(f"disk files on {smb_server}: {exc}") from None
        part, final = staging / f"{stem}.{fmt}.part", staging / f"{stem}.{fmt}"
        _record(staging, part.name, final.name)
        label = f"disk {disk.id}"
        try:
            with self._smb(smb_server) as smb:
                smb.copy(unc, part, reporter, label, self.env["chunk_size_mb"] * MIB)
            if not self._verifies(part, fmt, disk.size_bytes):
                raise ProviderError(f"{label}: {unc} is not a {fmt.upper()} of {disk.size_bytes} bytes")
            os.replace(part, final)
        except BaseException:
            _remove(part)
            raise
        return DiskRef(disk.id, str(final), fmt, conversion.info(final, fmt).virtual_size)

    @staticmethod
    def _verifies(path: Path, fmt: str, size: int) -> bool:
        """Whether ``path`` opens as ``fmt`` (never probed), names no parent, and holds ``size`` bytes.

        A VHD may come out up to one cylinder larger (qemu's CHS geometry for VHDs not made by Hyper-V).
        """
        try:
            info = conversion.info(path, fmt)
        except conversion.ConversionError:
            return False
        if info.backing_file:
            return False
        return not size or info.virtual_size == size or (fmt == "vhd" and 0 <= info.virtual_size - size < 16 * MIB)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Remove this migration's staging files and any ``coriolis-<migration>`` checkpoint; safe to repeat."""
        staging = Path(ctx.staging_dir)
        record = staging / CREATED_LIST
        if record.exists():
            for name in record.read_text(encoding="utf-8").splitlines():
                if name and "/" not in name and name not in (".", ".."):
                    _remove(staging / name)
            _remove(record)
        host = self._host()
        try:
            vm_id = str(self._find(host, ctx.instance)["Id"])
        except InstanceNotFound:
            return
        name = checkpoints.checkpoint_name(ctx.migration_id)
        if host.remove_checkpoint(vm_id, name):
            log.info("cleanup removed checkpoint %s of %s", name, ctx.instance)


class HypervExporter(WinRMExporter):
    """Source provider over a Hyper-V host; ``ChangeTracking`` through Resilient Change Tracking where offered."""

    def changed_areas(self, vm: VmInfo, disk: DiskInfo, since: str | None, ctx: MigrationContext) -> ChangedAreas:
        """Areas of ``disk`` changed since the change id ``since`` (``full`` without one, or without RCT).

        Each call leaves a new reference point on the VM for the next sync and destroys the one the
        committed ``since`` superseded.
        """
        host = self._host()
        answer = host.client.run_json(rct.changes_script(vm.id, disk.id, since), f"reading changes of disk {disk.id}")
        return rct.parse_changes(answer, since)
