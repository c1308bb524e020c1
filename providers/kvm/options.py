"""Connection info, source and target environment options of the kvm provider (marshmallow schemas)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers import hostconfig

DEFAULT_BOOT_MARKER = r"login:|FIXTURE-BOOT-OK"


def _check_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from None


class ConnectionSchema(Schema):
    """Where the kvm destination keeps disks and definitions; where source domains are.

    Host directories must lie below the roots the operator allows (setting ``local_paths``); the qemu
    binary and the UEFI firmware are operator settings (``kvm_qemu_binary``, ``kvm_ovmf_code``,
    ``kvm_ovmf_vars``), never connection info.
    """

    storage_dir = fields.String(
        load_default=None, metadata={"description": "Directory for imported disks and VM definitions "
                                                    "(needed as a destination)."}
    )
    domains_dir = fields.String(
        load_default=None, metadata={"description": "As a source: directory of libvirt domain XMLs "
                                                    "(<name>.xml, as virsh dumpxml writes them)."}
    )
    image_dirs = fields.List(
        fields.String(), load_default=list,
        metadata={"description": "As a source: directories the domains' disk files may be in, besides "
                                 "domains_dir (e.g. /var/lib/libvirt/images)."},
    )
    accel = fields.String(
        load_default="tcg",
        validate=validate.OneOf(["tcg", "kvm"]),
        metadata={"description": "qemu accelerator; 'tcg' is the safe default (nested KVM often hangs)."},
    )

    @validates_schema
    def _one_role(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data.get("storage_dir") and not data.get("domains_dir"):
            raise ValidationError("storage_dir (destination) or domains_dir (source) is required", "storage_dir")


class SourceEnvironmentSchema(Schema):
    """How a kvm source is read."""

    change_tracking = fields.Boolean(
        load_default=True,
        metadata={"description": "Track changes with persistent dirty bitmaps in the source's qcow2 images, so a "
                                 "transfer's later executions copy only what changed; false: every execution "
                                 "copies whole disks and the source images are never written to."},
    )


class TargetEnvironmentSchema(Schema):
    """How the migrated instance is defined and how its first boot is verified."""

    disk_format = fields.String(load_default="qcow2", validate=validate.OneOf(["qcow2", "raw"]))
    memory_mb = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=64),
        metadata={"description": "Memory of the instance; default: the source's."},
    )
    num_cpu = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=255),
        metadata={"description": "vCPUs of the instance; default: the source's."},
    )
    machine = fields.String(load_default="pc", validate=validate.OneOf(["pc", "q35"]))
    boot_timeout = fields.Float(
        load_default=120.0, validate=validate.Range(min=1),
        metadata={"description": "Seconds the boot check waits for the marker."},
    )
    boot_marker = fields.String(
        load_default=None, allow_none=True, validate=_check_regex,
        metadata={"description": f"Regex the boot check waits for on the serial console "
                                 f"(default {DEFAULT_BOOT_MARKER!r})."},
    )
    network = fields.String(
        load_default="user", validate=validate.OneOf(["user", "none"]),
        metadata={"description": "'user': qemu user networking with restrict=on; 'none': no NIC."},
    )
    preserve_static_ips = fields.Boolean(
        load_default=False, metadata={"description": "Keep static IP configuration when morphing."}
    )
    append = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "Kernel command line of a direct kernel boot (set up by the service only)."},
    )


@dataclass(frozen=True)
class Connection:
    """Validated connection info, with the operator's host programs and firmware (``hostconfig``)."""

    storage_dir: str | None
    domains_dir: str | None = None
    image_dirs: tuple[str, ...] = ()
    accel: str = "tcg"
    qemu_binary: str = hostconfig.DEFAULT_QEMU_BINARY
    ovmf_code: str = hostconfig.DEFAULT_OVMF_CODE
    ovmf_vars: str = hostconfig.DEFAULT_OVMF_VARS


@dataclass(frozen=True)
class TargetOptions:
    """Validated target environment options."""

    disk_format: str = "qcow2"
    memory_mb: int | None = None
    num_cpu: int | None = None
    machine: str = "pc"
    boot_timeout: float = 120.0
    boot_marker: str | None = None
    network: str = "user"
    preserve_static_ips: bool = False
    kernel: str | None = None  # direct kernel boot: never from a tenant (tests and appliances build it in code)
    initrd: str | None = None
    append: str | None = None

    @property
    def marker(self) -> str:
        """The boot marker regex, the default one when none was given."""
        return self.boot_marker or DEFAULT_BOOT_MARKER


def load_options(
    connection_info: dict[str, Any], target_environment: dict[str, Any] | None
) -> tuple[Connection, TargetOptions]:
    """Validate both option dicts; raises ``marshmallow.ValidationError``.

    Args:
        connection_info: the destination's connection info.
        target_environment: the migration's target environment (may be None).
    """
    conn = ConnectionSchema().load(connection_info or {})
    target = TargetEnvironmentSchema().load(target_environment or {})
    conn["image_dirs"] = tuple(conn.get("image_dirs") or ())
    host = hostconfig.current()
    connection = Connection(**conn, qemu_binary=host.qemu_binary, ovmf_code=host.ovmf_code, ovmf_vars=host.ovmf_vars)
    return connection, TargetOptions(**target)
