"""Types passed between stages: what a source exports, what a destination imports.

Read this module first. Every stage hands the next one of these frozen
dataclasses (as JSON through ``to_dict``/``from_dict``); SDK objects never
leave a provider folder. The two roles (``Exporter``, ``Importer``) are here; the optional
abilities a provider may add to them, with the values they return (``ReplicaWrite``,
``ChangedAreas``), are in ``providers/abilities.py``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from providers.shared_use import LOCAL, SharedUse


class OsType(enum.StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"
    UNKNOWN = "unknown"


class Firmware(enum.StrEnum):
    BIOS = "BIOS"
    EFI = "EFI"


class Cancelled(Exception):
    """Raised by a reporter when the migration was cancelled (or failed elsewhere)."""


class ProviderError(Exception):
    """An error a provider reports to the user: its message is shown as is."""


class InstanceNotFound(ProviderError):
    """The source has no instance by that name or id."""


def _from_dict(cls, data: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class DiskInfo:
    """A disk of a source VM (upstream 'disk' device shape)."""

    id: str
    size_bytes: int
    format: str | None = None
    path: str | None = None
    controller_id: str | None = None
    unit_number: int | None = None
    allocation_type: str | None = None
    storage_backend_identifier: str | None = None
    shareable: bool = False


@dataclass(frozen=True)
class NicInfo:
    """A network interface of a source VM."""

    mac_address: str
    network_name: str
    id: str | None = None
    name: str | None = None
    model: str | None = None
    ip_addresses: tuple[str, ...] = ()
    vlan_id: int | None = None


@dataclass(frozen=True)
class ControllerInfo:
    """A disk controller (``type``: ide, sata, lsilogic, pvscsi, virtio-scsi...) and its bus number (the OVF
    ``Address``, the n of VMware's ``scsi<n>``, libvirt's controller index) when known."""

    id: str
    type: str
    bus_number: int | None = None


@dataclass(frozen=True)
class OsInfo:
    """What OS detection found in a guest."""

    os_type: OsType = OsType.UNKNOWN
    distribution: str | None = None
    version: str | None = None
    product_name: str | None = None
    architecture: str | None = None


@dataclass(frozen=True)
class VmInfo:
    """A source instance, in upstream Coriolis' instance-info shape (``to_dict``)."""

    id: str
    name: str
    num_cpu: int = 1
    memory_mb: int = 512
    os_type: OsType = OsType.UNKNOWN
    firmware_type: Firmware = Firmware.BIOS
    disks: tuple[DiskInfo, ...] = ()
    nics: tuple[NicInfo, ...] = ()
    controllers: tuple[ControllerInfo, ...] = ()
    guest_id: str | None = None
    hostname: str | None = None
    nested_virtualization: bool = False
    power_state: str | None = None
    # a template (vSphere): migrated into images at a destination that can hold them (TemplateImport)
    is_template: bool = False
    secure_boot: bool = False  # EFI with Secure Boot on (Hyper-V generation 2)
    guest_services: tuple[str, ...] = ()  # guest integration services the source reports enabled (Hyper-V)
    flavor_name: str | None = None  # the source cloud's size of the instance (an EC2 instance type)

    def to_dict(self) -> dict[str, Any]:
        """The upstream instance-info JSON shape (``devices`` holds disks, nics...)."""
        return {
            "id": self.id,
            "is_template": self.is_template,
            "name": self.name,
            "instance_name": self.name,
            "num_cpu": self.num_cpu,
            "memory_mb": self.memory_mb,
            "os_type": str(self.os_type),
            "firmware_type": str(self.firmware_type),
            "guest_id": self.guest_id,
            "hostname": self.hostname,
            "nested_virtualization": self.nested_virtualization,
            "power_state": self.power_state,
            "secure_boot": self.secure_boot,
            "guest_services": list(self.guest_services),
            "flavor_name": self.flavor_name,
            "devices": {
                "disks": [dataclasses.asdict(d) for d in self.disks],
                "nics": [
                    {**dataclasses.asdict(n), "ip_addresses": list(n.ip_addresses)}
                    for n in self.nics
                ],
                "controllers": [dataclasses.asdict(c) for c in self.controllers],
                "cdroms": [],
                "serial_ports": [],
                "floppies": [],
            },
        }

    def summary(self) -> dict[str, Any]:
        """The fields a list of instances shows."""
        return {
            "id": self.id,
            "name": self.name,
            "instance_name": self.name,
            "num_cpu": self.num_cpu,
            "memory_mb": self.memory_mb,
            "os_type": str(self.os_type),
            "power_state": self.power_state,
            "is_template": self.is_template,
            "flavor_name": self.flavor_name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VmInfo:
        devices = data.get("devices") or {}
        return cls(
            id=data["id"],
            name=data.get("name") or data.get("instance_name") or data["id"],
            num_cpu=int(data.get("num_cpu") or 1),
            memory_mb=int(data.get("memory_mb") or 512),
            os_type=OsType(data.get("os_type") or "unknown"),
            firmware_type=Firmware(data.get("firmware_type") or "BIOS"),
            disks=tuple(_from_dict(DiskInfo, d) for d in devices.get("disks", [])),
            nics=tuple(
                _from_dict(NicInfo, {**n, "ip_addresses": tuple(n.get("ip_addresses") or ())})
                for n in devices.get("nics", [])
            ),
            controllers=tuple(
                _from_dict(ControllerInfo, c) for c in devices.get("controllers", [])
            ),
            guest_id=data.get("guest_id"),
            hostname=data.get("hostname"),
            nested_virtualization=bool(data.get("nested_virtualization")),
            power_state=data.get("power_state"),
            is_template=bool(data.get("is_template")),
            secure_boot=bool(data.get("secure_boot")),
            guest_services=tuple(data.get("guest_services") or ()),
            flavor_name=data.get("flavor_name"),
        )

    def disk(self, disk_id: str) -> DiskInfo:
        for d in self.disks:
            if d.id == disk_id:
                return d
        raise KeyError(disk_id)


@dataclass(frozen=True)
class DiskRef:
    """A disk image on a path a stage can read (staging, the source's own files, or the destination's store).

    ``member_offset``/``member_length``: the image is only those bytes of ``path`` (an OVA's VMDK,
    read in place inside the tar); None: the whole file. ``member_digest``: ``<hashlib name>:<hex>``
    those bytes must hash to (the OVA's manifest), checked by the conversion while it reads them.
    """

    disk_id: str
    path: str
    format: str
    size_bytes: int
    checksum: str | None = None
    member_offset: int | None = None
    member_length: int | None = None
    member_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.member_length is None:  # a whole file: the shape every stage result had before
            del out["member_offset"], out["member_length"], out["member_digest"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiskRef:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TargetProfile:
    """What the destination needs from the disks and the guest."""

    disk_format: str = "qcow2"
    disk_bus: str = "virtio"
    nic_model: str = "virtio"
    firmware: Firmware | None = None
    cloud_init_datasources: tuple[str, ...] = ("NoCloud",)
    morph: bool = True
    # whether the destination's NICs get the source VM's MAC addresses (the guest config matches them)
    keeps_macs: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "cloud_init_datasources": list(self.cloud_init_datasources)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetProfile:
        data = {**data, "cloud_init_datasources": tuple(data.get("cloud_init_datasources") or ())}
        return _from_dict(cls, data)


@dataclass(frozen=True)
class ImportedInstance:
    """What a destination created: an id, its disks, provider-specific details."""

    id: str
    name: str
    disks: tuple[DiskRef, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "disks": [d.to_dict() for d in self.disks],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportedInstance:
        return cls(
            id=data["id"],
            name=data["name"],
            disks=tuple(DiskRef.from_dict(d) for d in data.get("disks", [])),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True)
class BootResult:
    """Whether the migrated guest booted on the destination, and how long it took."""

    booted: bool
    seconds: float | None = None
    message: str = ""
    console_tail: str = ""
    checked: bool = True  # False: no boot check exists for this guest here (Windows)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MigrationContext:
    """Who is asking: used for deterministic resource names and the staging area."""

    migration_id: str
    instance: str
    staging_dir: Path
    transfer_id: str | None = None  # set for a transfer's runs: keys source-side tracking state (bitmaps)
    # who uses a resource several tasks of the run share (one snapshot for all of an instance's disks)
    shared: SharedUse = field(default=LOCAL, compare=False, repr=False)

    def resource_name(self, suffix: str) -> str:
        """A deterministic name for a resource this migration creates."""
        return f"coriolis-{self.migration_id}-{suffix}"


class Reporter(Protocol):
    """The narrow progress channel handed to providers, converters and morphers."""

    def step(self, done: int, total: int | None, message: str = "") -> None:
        """Report progress; raises ``Cancelled`` when the migration is being cancelled."""

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class NullReporter:
    """A reporter that records what it is told (for tests and plain scripts)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int | None, str]] = []
        self.events: list[tuple[str, str]] = []
        self.cancelled = False

    def step(self, done: int, total: int | None, message: str = "") -> None:
        if self.cancelled:
            raise Cancelled("cancelled")
        self.steps.append((done, total, message))

    def info(self, message: str) -> None:
        self.events.append(("INFO", message))

    def warn(self, message: str) -> None:
        self.events.append(("WARNING", message))


@runtime_checkable
class Exporter(Protocol):
    """A source: lists instances and streams their disks into staging."""

    def validate(self) -> None: ...

    def list_instances(self) -> list[VmInfo]: ...

    def get_instance(self, instance: str) -> VmInfo: ...

    def export_disk(
        self, vm: VmInfo, disk: DiskInfo, ctx: MigrationContext, reporter: Reporter
    ) -> DiskRef: ...

    def cleanup(self, ctx: MigrationContext) -> None: ...


@runtime_checkable
class Importer(Protocol):
    """A destination: takes converted, morphed disks and makes a running instance."""

    def validate(self) -> None: ...

    def target_profile(self, vm: VmInfo) -> TargetProfile: ...

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef: ...

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance: ...

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult: ...

    def cleanup(self, ctx: MigrationContext) -> None: ...
