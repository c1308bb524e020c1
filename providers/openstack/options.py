"""Connection info and target environment options of the openstack destination (marshmallow schemas)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import HostNotAllowed, check_host

DEFAULT_BOOT_MARKER = r"login:|FIXTURE-BOOT-OK"


def auth_url_host(url: str) -> str:
    """The host part of a Keystone URL; raises ``ValueError`` unless it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"auth_url {url!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("auth_url must not carry credentials")
    return parts.hostname


def _check_auth_url(url: str) -> None:
    try:
        check_host(auth_url_host(url))
    except (ValueError, HostNotAllowed) as exc:
        raise ValidationError(str(exc)) from None


def _check_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from None


class ConnectionSchema(Schema):
    """Keystone v3 credentials (a password or a token) of the destination cloud."""

    auth_url = fields.String(
        required=True, validate=[validate.Length(max=2048), _check_auth_url],
        metadata={"description": "Keystone v3 URL, e.g. https://keystone.example:5000/v3."},
    )
    username = fields.String(load_default=None, allow_none=True)
    password = fields.String(load_default=None, allow_none=True, load_only=True)
    token = fields.String(
        load_default=None, allow_none=True, load_only=True,
        metadata={"description": "A Keystone token to use instead of a username and password."},
    )
    project_name = fields.String(load_default=None, allow_none=True)
    project_id = fields.String(load_default=None, allow_none=True)
    user_domain_name = fields.String(load_default="Default")
    project_domain_name = fields.String(load_default="Default")
    region_name = fields.String(load_default=None, allow_none=True)
    interface = fields.String(load_default="public", validate=validate.OneOf(["public", "internal", "admin"]))
    verify = fields.Boolean(load_default=True, metadata={"description": "Verify TLS certificates."})

    @validates_schema
    def _credentials(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("token") and not (data.get("username") and data.get("password")):
            raise ValidationError("give either a token or a username and a password", "_schema")
        if not data.get("project_name") and not data.get("project_id"):
            raise ValidationError("give project_name or project_id", "_schema")


class TargetEnvironmentSchema(Schema):
    """Where and how the migrated instance is created in the destination cloud."""

    flavor_name = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "Nova flavor; default: the smallest that fits the source's CPUs, memory, disk."},
    )
    network_map = fields.Dict(
        keys=fields.String(), values=fields.String(), load_default=dict,
        metadata={"description": "Source network name -> Neutron network name or id."},
    )
    image_format = fields.String(load_default="qcow2", validate=validate.OneOf(["qcow2", "raw"]))
    container_format = fields.String(load_default="bare", validate=validate.OneOf(["bare"]))
    disk_bus = fields.String(load_default="virtio", validate=validate.OneOf(["virtio", "scsi", "sata", "ide"]))
    keep_mac_addresses = fields.Boolean(
        load_default=True, metadata={"description": "Create the ports with the source NICs' MAC addresses."}
    )
    security_groups = fields.List(fields.String(), load_default=list)
    key_name = fields.String(load_default=None, allow_none=True)
    boot_from_volume = fields.Boolean(
        load_default=False, metadata={"description": "Boot from Cinder volumes made from the images."}
    )
    volume_type = fields.String(load_default=None, allow_none=True)
    availability_zone = fields.String(load_default=None, allow_none=True)
    active_timeout = fields.Float(
        load_default=600.0, validate=validate.Range(min=1, max=86400),
        metadata={"description": "Seconds to wait for the server (and volumes) to become ready."},
    )
    boot_timeout = fields.Float(
        load_default=300.0, validate=validate.Range(min=0, max=86400),
        metadata={"description": "Seconds the boot check waits for the marker on the console log."},
    )
    boot_marker = fields.String(
        load_default=None, allow_none=True, validate=_check_regex,
        metadata={"description": f"Regex awaited on the console log (default {DEFAULT_BOOT_MARKER!r})."},
    )
    preserve_static_ips = fields.Boolean(load_default=False)


@dataclass(frozen=True)
class Connection:
    """Validated connection info (never logged: it holds a password or a token)."""

    auth_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    interface: str = "public"
    verify: bool = True


@dataclass(frozen=True)
class TargetOptions:
    """Validated target environment options."""

    flavor_name: str | None = None
    network_map: dict[str, str] = field(default_factory=dict)
    image_format: str = "qcow2"
    container_format: str = "bare"
    disk_bus: str = "virtio"
    keep_mac_addresses: bool = True
    security_groups: list[str] = field(default_factory=list)
    key_name: str | None = None
    boot_from_volume: bool = False
    volume_type: str | None = None
    availability_zone: str | None = None
    active_timeout: float = 600.0
    boot_timeout: float = 300.0
    boot_marker: str | None = None
    preserve_static_ips: bool = False

    @property
    def marker(self) -> str:
        """The boot marker regex, the default one when none was given."""
        return self.boot_marker or DEFAULT_BOOT_MARKER


def load_connection(connection_info: dict[str, Any]) -> Connection:
    """Validate connection info; raises ``marshmallow.ValidationError``."""
    return Connection(**ConnectionSchema().load(connection_info or {}))


def load_target(target_environment: dict[str, Any] | None) -> TargetOptions:
    """Validate the target environment; raises ``marshmallow.ValidationError``."""
    return TargetOptions(**TargetEnvironmentSchema().load(target_environment or {}))
