"""The vsphere exporter: inventory from vCenter/ESXi, disks read from the datastore through a snapshot."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

import conversion
from providers.abilities import ChangedAreas
from providers.types import (
    ControllerInfo,
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
from providers.vsphere import cbt, lookup, mappings, nfc, snapshots
from providers.vsphere.client import LeaseUnsupported, VsphereClient
from providers.vsphere.datastore import MIB, DatastoreReader, fetch_disk, remove
from providers.vsphere.devices import controller_type, device_kind, nic_model, nic_network
from providers.vsphere.options import ConnectionSchema, SourceEnvironmentSchema

log = logging.getLogger(__name__)

CREATED_LIST = ".vsphere-created"
LINUX_GUEST_IDS = (
    "linux", "debian", "ubuntu", "rhel", "centos", "sles", "suse", "fedora", "oracle", "rocky", "alma",
    "amazon", "photon", "coreos", "asianux", "mandr", "turbo", "redhat", "opensuse",
)




def os_type_of(guest_id: str | None, full_name: str | None) -> OsType:
    text = f"{guest_id or ''} {full_name or ''}".lower()
    if "windows" in text or text.startswith("win"):
        return OsType.WINDOWS
    if any(word in text for word in LINUX_GUEST_IDS):
        return OsType.LINUX
    return OsType.UNKNOWN


def _disk_info(device: Any) -> DiskInfo:
    backing = device.backing
    size = device.capacityInBytes or (device.capacityInKB or 0) * 1024
    if getattr(backing, "thinProvisioned", False):
        allocation = "thin"
    elif getattr(backing, "eagerlyScrub", False):
        allocation = "eager_zeroed_thick"
    else:
        allocation = "thick"
    datastore = getattr(backing, "datastore", None)
    return DiskInfo(
        id=str(device.key),
        size_bytes=int(size),
        format="vmdk",
        path=getattr(backing, "fileName", None),
        controller_id=str(device.controllerKey) if device.controllerKey is not None else None,
        unit_number=device.unitNumber,
        allocation_type=allocation,
        storage_backend_identifier=datastore.name if datastore is not None else None,
        shareable=getattr(backing, "sharing", None) == "sharingMultiWriter",
    )


def describe(vm: Any) -> VmInfo:
    """A VM's inventory facts as a ``VmInfo`` (disks, controllers, NICs with port groups)."""
    config = vm.config
    if config is None:
        raise ProviderError(f"VM {vm.name} has no readable configuration (inaccessible?)")
    guest = vm.guest
    addresses: dict[str, tuple[str, ...]] = {}
    for net in (guest.net if guest is not None else None) or ():
        addresses[(net.macAddress or "").lower()] = tuple(net.ipAddress or ())
    disks, nics, controllers = [], [], []
    for device in config.hardware.device:
        kind = device_kind(device)
        if kind == "disk":
            disks.append(_disk_info(device))
        elif kind == "nic":
            mac = (device.macAddress or "").lower()
            nics.append(NicInfo(
                mac_address=mac, network_name=nic_network(device, vm), id=str(device.key),
                name=device.deviceInfo.label if device.deviceInfo else None, model=nic_model(device),
                ip_addresses=addresses.get(mac, ()),
            ))
        elif kind == "controller":
            controllers.append(ControllerInfo(id=str(device.key), type=controller_type(device) or "unknown",
                                              bus_number=getattr(device, "busNumber", None)))
    return VmInfo(
        id=vm._moId,
        name=vm.name,
        num_cpu=int(config.hardware.numCPU or 1),
        memory_mb=int(config.hardware.memoryMB or 0),
        os_type=os_type_of(config.guestId, config.guestFullName),
        firmware_type=Firmware.EFI if config.firmware == "efi" else Firmware.BIOS,
        disks=tuple(disks),
        nics=tuple(nics),
        controllers=tuple(controllers),
        guest_id=config.guestId,
        hostname=guest.hostName if guest is not None else None,
        nested_virtualization=bool(config.nestedHVEnabled),
        power_state=str(vm.runtime.powerState),
        is_template=bool(config.template),
    )


def _record(staging: Path, *names: str) -> None:
    with open(staging / CREATED_LIST, "a", encoding="utf-8") as f:
        f.writelines(f"{n}\n" for n in names)


class VsphereExporter:
    """Source provider over a vCenter or ESXi endpoint.

    Instance ids are managed object ids (``vm-42``); names and uuids are accepted too.
    """

    def __init__(self, connection_info: dict[str, Any], source_environment: dict[str, Any] | None = None) -> None:
        self._connection_info = dict(connection_info or {})
        self._source_environment = dict(source_environment or {})

    @functools.cached_property
    def _options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            return (ConnectionSchema().load(self._connection_info),
                    SourceEnvironmentSchema().load(self._source_environment))
        except ValidationError as exc:
            messages = {k: v for k, v in exc.messages.items() if k != "password"} if isinstance(
                exc.messages, dict) else exc.messages
            raise ProviderError(f"invalid vsphere options: {messages or 'password is invalid'}") from None

    @property
    def env(self) -> dict[str, Any]:
        return self._options[1]

    def _client(self) -> VsphereClient:
        conn, env = self._options
        return VsphereClient(
            conn["host"], conn["port"], conn["username"], conn["password"],
            allow_untrusted=conn["allow_untrusted"], timeout=env["timeout_seconds"],
        )

    def validate(self) -> None:
        """Log in and check the endpoint is a vCenter or an ESXi host."""
        with self._client() as client:
            about = client.about()
        if about["api_type"] not in ("VirtualCenter", "HostAgent"):
            raise ProviderError(f"{about['full_name']} is not a vCenter or ESXi endpoint")

    def about(self) -> dict[str, str]:
        """Product name, API type and version of the endpoint."""
        with self._client() as client:
            return client.about()

    def list_instances(self, name_filter: str | None = None, templates: str | None = None) -> list[VmInfo]:
        """Every VM and template (``is_template`` flags templates), optionally filtered by name (and by the
        ``folder`` and ``cluster`` options).

        Args:
            name_filter: only names containing this text (case-insensitive); default: the ``name_filter`` option.
            templates: ``include`` templates, ``exclude`` them or list ``only`` them; default: the ``templates``
                option.
        """
        needle = (name_filter or self.env["name_filter"] or "").lower()
        which = templates or self.env["templates"]
        if which not in ("include", "exclude", "only"):
            raise ProviderError(f"templates must be include, exclude or only, not {which!r}")
        out: list[VmInfo] = []
        with self._client() as client:
            for vm in client.virtual_machines():
                if needle and needle not in vm.name.lower():
                    continue
                if not self._placed_as_asked(client, vm):
                    continue
                try:
                    info = describe(vm)
                except ProviderError as exc:
                    log.warning("skipping %s: %s", vm.name, exc)
                    continue
                if (which == "exclude" and info.is_template) or (which == "only" and not info.is_template):
                    continue
                out.append(info)
        return sorted(out, key=lambda v: (v.name, v.id))

    def _placed_as_asked(self, client: VsphereClient, vm: Any) -> bool:
        """Whether ``vm`` is in the ``folder`` (or below it) and on a host of the ``cluster`` options, when set."""
        folder, cluster = self.env["folder"], self.env["cluster"]
        if folder:
            path = client.inventory_path(vm.parent)
            if path != folder.strip("/") and not path.startswith(folder.strip("/") + "/"):
                return False
        if cluster:
            host = getattr(vm.runtime, "host", None)
            if host is None or client.inventory_path(host.parent) != cluster.strip("/"):
                return False
        return True

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """The endpoint's VM folders and clusters, as inventory paths (``OptionLookup``)."""
        with self._client() as client:
            return lookup.source_options(client, names)

    def get_instance(self, instance: str) -> VmInfo:
        """A VM or template by id, uuid or unique name."""
        with self._client() as client:
            return describe(client.find_vm(instance))

    def list_networks(self) -> list[dict[str, Any]]:
        """Port groups (standard and distributed) and opaque networks, for network maps."""
        with self._client() as client:
            return mappings.list_networks(client)

    def list_storage(self) -> list[dict[str, Any]]:
        """Datastores with their capacity and free space, for storage mappings."""
        with self._client() as client:
            return mappings.list_storage(client)

    def source_host_key(self, vm: VmInfo) -> str:
        """The host disk reads load: ``vsphere:<endpoint>/<ESXi host running the VM>``."""
        conn = self._options[0]
        key = f"vsphere:{conn['host']}:{conn['port']}"
        try:
            with self._client() as client:
                host = client.find_vm(vm.id).runtime.host
                return f"{key}/{host.name}" if host is not None else key
        except ProviderError:
            return key

    def enable_change_tracking(self, vm: VmInfo) -> bool:
        """Turn changed-block tracking on; False when it already was on."""
        with self._client() as client:
            return cbt.enable(client, client.find_vm(vm.id))

    def change_id(self, vm: VmInfo, disk: DiskInfo, snapshot_name: str | None = None) -> str | None:
        """A disk's current change id (or as frozen by ``snapshot_name``)."""
        with self._client() as client:
            obj = client.find_vm(vm.id)
            found = snapshots.named(obj, snapshot_name) if snapshot_name else []
            return cbt.disk_change_id(found[-1] if found else obj, int(disk.id))

    def changed_areas(self, vm: VmInfo, disk: DiskInfo, since: str | None, ctx: MigrationContext) -> ChangedAreas:
        """Areas of ``disk`` changed since the change id ``since`` (QueryChangedDiskAreas); ``ChangeTracking``.

        Turns tracking on when it is off (that sync is a full one). A running VM is queried
        through a short-lived snapshot ``coriolis-<migration>-cbt``, removed before returning.
        """
        with self._client() as client:
            obj = client.find_vm(vm.id)
            if cbt.enable(client, obj):
                return ChangedAreas(change_id="", full=True)
            key = int(disk.id)
            if obj.runtime.powerState == "poweredOff":
                return cbt.areas_since(client, obj, key, disk.size_bytes, since)
            name = f"{snapshots.snapshot_name(ctx.migration_id)}-cbt"
            with snapshots.frozen(client, obj, name, f"Coriolis changed areas {ctx.migration_id}") as snap:
                return cbt.areas_since(client, obj, key, disk.size_bytes, since, snap)

    def export_disk(self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Copy a disk into ``ctx.staging_dir``: through snapshot ``coriolis-<migration>``, or cold.

        A template (no snapshot possible) has its base disks read directly. The data comes through
        an NFC export lease or the datastore file interface (the ``disk_transport`` option). The
        snapshot is removed afterwards whatever happens (failure, ``Cancelled``); a partly copied
        file is removed too, and a lease is always completed or aborted.
        """
        staging = Path(ctx.staging_dir)
        staging.mkdir(parents=True, exist_ok=True)
        stem = staging / f"disk-{disk.id}"
        for fmt in ("raw", "vmdk"):
            final = stem.with_name(f"{stem.name}.{fmt}")
            if final.exists() and self._verifies(final, fmt, disk):
                reporter.info(f"{disk.id}: {final.name} already exported and verified; not copied again")
                return DiskRef(disk.id, str(final), fmt, disk.size_bytes)
        with self._client() as client:
            obj = client.find_vm(vm.id)
            key = int(disk.id)
            current = [d for d in obj.config.hardware.device if device_kind(d) == "disk" and d.key == key]
            if not current:
                raise ProviderError(f"VM {obj.name} has no disk {disk.id}")
            if self.env["enable_cbt"] and cbt.enable(client, obj):
                reporter.info(f"changed-block tracking enabled on {obj.name}")
            template = bool(obj.config.template)
            if self.env["power_off"] or template:
                if template:
                    reporter.info(f"{obj.name} is a template: reading its base disks (no snapshot)")
                elif obj.runtime.powerState != "poweredOff":
                    reporter.info(f"powering off {obj.name} for a cold export")
                    client.power_off(obj)
                if getattr(current[0].backing, "parent", None) is not None:
                    raise ProviderError(f"disk {disk.id} has snapshots; delete or consolidate them first")
                return self._transfer(client, obj, obj, str(current[0].backing.fileName), disk, stem, reporter)
            name = snapshots.snapshot_name(ctx.migration_id)
            description = f"Coriolis migration {ctx.migration_id}"
            with snapshots.shared_frozen(client, obj, name, description, ctx.shared, disk.id) as snap:
                reporter.info(f"reading disk {disk.id} through snapshot {name} of {obj.name}")
                path = snapshots.frozen_disk_file(snap, key)
                ref = self._transfer(client, obj, snap, path, disk, stem, reporter)
            reporter.info(f"disk {disk.id} read; snapshot {name} released")
            return ref

    def _transfer(
        self, client: VsphereClient, vm: Any, entity: Any, path: str, disk: DiskInfo, stem: Path, reporter: Reporter
    ) -> DiskRef:
        """Read a disk through the configured transport; ``auto`` falls back to the datastore when
        the server offers no export lease."""
        transport = self.env["disk_transport"]
        if transport != "datastore":
            try:
                return self._read_nfc(client, vm, entity, disk, stem, reporter)
            except LeaseUnsupported as exc:
                if transport == "nfc":
                    raise ProviderError(f"disk_transport is nfc, but {exc}") from None
                reporter.info(f"disk {disk.id}: {exc}; reading through the datastore instead")
        return self._read(client, vm, path, disk, stem, reporter)

    def _read_nfc(
        self, client: VsphereClient, vm: Any, entity: Any, disk: DiskInfo, stem: Path, reporter: Reporter
    ) -> DiskRef:
        """Read a disk through an export lease on ``entity`` (the VM, template or snapshot) as a VMDK."""
        staging = stem.parent
        part = stem.with_name(f"{stem.name}.vmdk.part")
        _record(staging, part.name, part.name.removesuffix(".part"))
        final = nfc.read_disk(
            client, vm, entity, int(disk.id), disk.size_bytes, part, reporter,
            verify=lambda path: self._verifies(path, "vmdk", disk), chunk_size=self.env["chunk_size_mb"] * MIB,
            timeout=self.env["timeout_seconds"],
        )
        return DiskRef(disk.id, str(final), "vmdk", disk.size_bytes)

    def _read(
        self, client: VsphereClient, vm: Any, path: str, disk: DiskInfo, stem: Path, reporter: Reporter
    ) -> DiskRef:
        conn, env = self._options
        staging = stem.parent
        names = [f"{stem.name}.{fmt}{part}" for fmt in ("raw", "vmdk") for part in (".part", "")]
        _record(staging, *names)
        reader = DatastoreReader(
            conn["host"], conn["port"], client.datacenter_path(vm), client.session_cookie(),
            verify=not conn["allow_untrusted"], chunk_size=env["chunk_size_mb"] * MIB,
        )
        label = f"disk {disk.id}"
        reporter.info(f"{label}: reading {path}")
        try:
            part, fmt = fetch_disk(reader, path, stem, reporter, label)
            if not self._verifies(part, fmt, disk):
                raise ProviderError(f"{label}: {path} read from the datastore is not a {disk.size_bytes}-byte {fmt}")
            final = part.with_name(part.name.removesuffix(".part"))
            os.replace(part, final)
        except BaseException:
            for name in names[0::2]:
                remove(staging / name)
            raise
        finally:
            reader.close()
        return DiskRef(disk.id, str(final), fmt, disk.size_bytes)

    @staticmethod
    def _verifies(path: Path, fmt: str, disk: DiskInfo) -> bool:
        try:
            info = conversion.info(path, fmt)
        except conversion.ConversionError:
            return False
        return not info.backing_file and (not disk.size_bytes or info.virtual_size == disk.size_bytes)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Remove this migration's staging files and any ``coriolis-<migration>`` snapshot; safe to repeat."""
        staging = Path(ctx.staging_dir)
        record = staging / CREATED_LIST
        if record.exists():
            for name in record.read_text(encoding="utf-8").splitlines():
                if name and "/" not in name and name not in (".", ".."):
                    remove(staging / name)
            remove(record)
        name = snapshots.snapshot_name(ctx.migration_id)
        with self._client() as client:
            try:
                obj = client.find_vm(ctx.instance)
            except InstanceNotFound:
                return
            if snapshots.remove_named(client, obj, name):
                log.info("cleanup removed snapshot %s of %s", name, obj.name)
