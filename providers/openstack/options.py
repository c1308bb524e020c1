"""Connection info and target environment options of the openstack destination (marshmallow schemas)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import HostNotAllowed, check_host
from providers.openstack.networks import NewNetwork

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


CALLER_IDENTITY_EXCLUDES = ("username", "password", "token", "trust_id", "project_name", "project_id")


class ConnectionSchema(Schema):
    """Keystone v3 credentials (a password, a token, a trust, or the caller's identity) of the destination cloud."""

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
    use_caller_identity = fields.Boolean(
        load_default=False,
        metadata={"description": "Act as the caller, through a Keystone trust the service makes for each run "
                  "(no credentials here). Only for the Keystone the API itself uses (auth_strategy keystone)."},
    )
    trust_id = fields.String(
        load_default=None, allow_none=True, load_only=True,
        metadata={"description": "Keystone trust to scope to; the username and password are the trustee's."},
    )
    project_name = fields.String(load_default=None, allow_none=True)
    project_id = fields.String(load_default=None, allow_none=True)
    user_domain_id = fields.String(load_default=None, allow_none=True)
    user_domain_name = fields.String(load_default="Default")
    project_domain_name = fields.String(load_default="Default")
    region_name = fields.String(load_default=None, allow_none=True)
    interface = fields.String(load_default="public", validate=validate.OneOf(["public", "internal", "admin"]))
    verify = fields.Boolean(load_default=True, metadata={"description": "Verify TLS certificates."})

    @validates_schema
    def _credentials(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("use_caller_identity"):
            given = [k for k in CALLER_IDENTITY_EXCLUDES if data.get(k)]
            if given:
                raise ValidationError(f"use_caller_identity takes no {', '.join(given)}", "_schema")
            return
        if data.get("trust_id"):
            if data.get("token") or data.get("project_name") or data.get("project_id"):
                raise ValidationError("a trust_id comes with a username and password, no token or project",
                                      "_schema")
            if not (data.get("username") and data.get("password")):
                raise ValidationError("a trust_id needs the trustee's username and password", "_schema")
            return
        if not data.get("token") and not (data.get("username") and data.get("password")):
            raise ValidationError("give either a token or a username and a password", "_schema")
        if not data.get("project_name") and not data.get("project_id"):
            raise ValidationError("give project_name or project_id", "_schema")


class NewNetworkSchema(Schema):
    """A network_map value that asks for a Neutron network (and one subnet) made for the source network."""

    create = fields.Boolean(required=True, validate=validate.Equal(True))
    cidr = fields.String(required=True, metadata={"description": "The subnet, e.g. 10.1.2.0/24 (network address)."})
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255),
                         metadata={"description": "Default: the source network's name."})
    gateway_ip = fields.String(load_default=None, allow_none=True)
    enable_dhcp = fields.Boolean(load_default=True)
    dns_nameservers = fields.List(fields.IP(), load_default=list, validate=validate.Length(max=5))
    network_type = fields.String(load_default=None, allow_none=True,
                                 validate=validate.OneOf(["vlan", "vxlan", "geneve", "gre", "flat", "local"]))
    physical_network = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    segmentation_id = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=16777215),
        metadata={"description": "VLAN or VNI; a vlan network takes the source port group's VLAN when omitted."},
    )
    vlan_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=4094),
                             metadata={"description": "Same as segmentation_id, for a vlan network."})

    @validates_schema
    def _addresses(self, data: dict[str, Any], **_: Any) -> None:
        try:
            cidr = ipaddress.ip_network(data["cidr"], strict=True)
        except ValueError as exc:
            raise ValidationError(f"not a network address in CIDR notation: {exc}", "cidr") from None
        if cidr.num_addresses < 4:
            raise ValidationError("the subnet needs at least 4 addresses", "cidr")
        if data.get("gateway_ip"):
            try:
                gateway = ipaddress.ip_address(data["gateway_ip"])
            except ValueError as exc:
                raise ValidationError(str(exc), "gateway_ip") from None
            if gateway not in cidr:
                raise ValidationError(f"{gateway} is not in {cidr}", "gateway_ip")
        vlan, segment = data.get("vlan_id"), data.get("segmentation_id")
        if vlan is not None and segment is not None and vlan != segment:
            raise ValidationError("vlan_id and segmentation_id differ", "vlan_id")
        if (vlan is not None or segment is not None) and data.get("network_type") in ("flat", "local"):
            raise ValidationError(f"a {data['network_type']} network has no segmentation id", "segmentation_id")
        if data.get("network_type") == "vlan" and (segment or 0) > 4094:
            raise ValidationError("a VLAN id is at most 4094", "segmentation_id")

    def to_network(self, data: dict[str, Any]) -> NewNetwork:
        segment = data["segmentation_id"] if data["segmentation_id"] is not None else data["vlan_id"]
        network_type = data["network_type"] or ("vlan" if segment is not None else None)
        return NewNetwork(
            cidr=str(ipaddress.ip_network(data["cidr"])), name=data["name"], gateway_ip=data["gateway_ip"],
            enable_dhcp=data["enable_dhcp"], dns_nameservers=tuple(str(d) for d in data["dns_nameservers"]),
            network_type=network_type, physical_network=data["physical_network"], segmentation_id=segment,
        )


class ExistingNetworkSchema(Schema):
    """A network_map value naming an existing Neutron network in the object form (as upstream's ``{"id"}``)."""

    id = fields.String(required=True, validate=validate.Length(min=1, max=255))


class NetworkTarget(fields.Field):
    """A network_map value: an existing network's name or id (a string, or ``{"id"}``), or
    ``{"create": true, "cidr", ...}`` for a network made from the source port group (``NewNetworkSchema``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | NewNetwork:
        if isinstance(value, str):
            if not 1 <= len(value) <= 255:
                raise ValidationError("a network name or id has 1 to 255 characters")
            return value
        if not isinstance(value, dict):
            raise ValidationError("a network name or id, or an object")
        if "create" in value:
            schema = NewNetworkSchema()
            return schema.to_network(schema.load(value))
        return ExistingNetworkSchema().load(value)["id"]

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value if isinstance(value, str) or value is None else value.__dict__


class BackendMappingSchema(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=255),
                           metadata={"description": "A source storage backend (vSphere datastore name)."})
    destination = fields.String(required=True, validate=validate.Length(min=1, max=255),
                                metadata={"description": "A Cinder volume type name or id."})


class DiskMappingSchema(Schema):
    disk_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    destination = fields.String(required=True, validate=validate.Length(min=1, max=255))


class StorageMappingsSchema(Schema):
    """Which Cinder volume type each source disk lands on: by disk id, by source backend, or a default."""

    default = fields.String(load_default=None, allow_none=True)
    backend_mappings = fields.List(fields.Nested(BackendMappingSchema), load_default=list)
    disk_mappings = fields.List(fields.Nested(DiskMappingSchema), load_default=list)


class StorageMappings(fields.Dict):
    """``storage_mappings`` checked by ``StorageMappingsSchema`` (published as a plain object: the API's JSON
    schema of a provider has no place for nested schema references)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        return StorageMappingsSchema().load(super()._deserialize(value, attr, data, **kwargs))


class TargetEnvironmentSchema(Schema):
    """Where and how the migrated instance is created in the destination cloud."""

    flavor_name = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "Nova flavor; default: the smallest that fits the source's CPUs, memory, disk."},
    )
    network_map = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=255)), values=NetworkTarget(), load_default=dict,
        metadata={"description": "Source network name -> Neutron network name or id, or "
                                 '{"create": true, "cidr": ...} for a network made for it (kept after success).'},
    )
    storage_mappings = StorageMappings(
        load_default=dict,
        metadata={"description": "Disks to Cinder volumes of a volume type: a mapped disk becomes a volume "
                                 "(the boot disk too: the server then boots from it)."},
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
    """Validated connection info (never logged: it holds a password, a token or a trust id)."""

    auth_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    use_caller_identity: bool = False
    trust_id: str | None = field(default=None, repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    interface: str = "public"
    verify: bool = True


@dataclass(frozen=True)
class TargetOptions:
    """Validated target environment options."""

    flavor_name: str | None = None
    network_map: dict[str, str | NewNetwork] = field(default_factory=dict)
    storage_mappings: dict[str, Any] = field(default_factory=dict)
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
