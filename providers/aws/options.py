"""Connection info and environment options of the aws provider (marshmallow schemas)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import HostNotAllowed, check_host

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def _check_endpoint_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"endpoint_url {url!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValidationError("endpoint_url must not carry credentials")
    try:
        check_host(parts.hostname)
    except HostNotAllowed as exc:
        raise ValidationError(str(exc)) from None


class ConnectionSchema(Schema):
    """An AWS account's access key in one region (an ``endpoint_url`` for a private or emulated endpoint)."""

    region_name = fields.String(required=True, validate=validate.Regexp(REGION, error="not an AWS region name"),
                                metadata={"description": "e.g. us-east-1"})
    access_key_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    secret_access_key = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    session_token = fields.String(load_default=None, allow_none=True, load_only=True,
                                  metadata={"description": "For temporary credentials (STS)."})
    endpoint_url = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=2048), _check_endpoint_url],
        metadata={"description": "One URL for every service (EC2 and EBS), for VPC endpoints or an emulator."},
    )
    verify = fields.Boolean(load_default=True, metadata={"description": "Verify TLS certificates."})


class SourceEnvironmentSchema(Schema):
    """Options of the aws source."""

    parallel_reads = fields.Integer(load_default=8, validate=validate.Range(min=1, max=64),
                                    metadata={"description": "EBS direct GetSnapshotBlock calls in flight per disk."})
    snapshot_timeout = fields.Integer(load_default=3600, validate=validate.Range(min=10, max=86400),
                                      metadata={"description": "Seconds to wait for a snapshot to complete."})


class TargetEnvironmentSchema(Schema):
    """Where and how the aws destination creates the migrated instance."""

    instance_type = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
        metadata={"description": "e.g. m5.large; default: the smallest current-generation type with the "
                  "source's CPUs and memory"},
    )
    subnet_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^subnet-[0-9a-f]+$"),
        metadata={"description": "Subnet of NICs whose source network the network_map does not name (and of the "
                  "instance when the source has no NIC); default: the default VPC's first default subnet"},
    )
    network_map = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.Regexp(r"^subnet-[0-9a-f]+$")),
        load_default=dict, metadata={"description": "source network name -> subnet id ('*' for any other)"},
    )
    security_group_ids = fields.List(fields.String(validate=validate.Regexp(r"^sg-[0-9a-f]+$")), load_default=list,
                                     validate=validate.Length(max=5))
    key_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255))
    volume_type = fields.String(load_default="gp3",
                                validate=validate.OneOf(["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]))
    architecture = fields.String(load_default="x86_64", validate=validate.OneOf(["x86_64", "arm64"]))
    parallel_writes = fields.Integer(load_default=8, validate=validate.Range(min=1, max=64),
                                     metadata={"description": "EBS direct PutSnapshotBlock calls in flight per disk."})
    active_timeout = fields.Integer(load_default=1800, validate=validate.Range(min=5, max=86400),
                                    metadata={"description": "Seconds to wait for snapshots, volumes, the instance."})

    @validates_schema
    def _networks(self, data: dict[str, Any], **_: Any) -> None:
        if len(data.get("network_map") or {}) > 64:
            raise ValidationError("at most 64 networks can be mapped", "network_map")


@dataclass(frozen=True)
class Connection:
    """Validated connection info (the secret stays out of ``repr``)."""

    region_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class SourceOptions:
    parallel_reads: int = 8
    snapshot_timeout: int = 3600


@dataclass(frozen=True)
class TargetOptions:
    instance_type: str | None = None
    subnet_id: str | None = None
    network_map: dict[str, str] = field(default_factory=dict)
    security_group_ids: list[str] = field(default_factory=list)
    key_name: str | None = None
    volume_type: str = "gp3"
    architecture: str = "x86_64"
    parallel_writes: int = 8
    active_timeout: int = 1800


def load_connection(connection_info: dict[str, Any]) -> Connection:
    """Validate connection info; raises ``marshmallow.ValidationError``."""
    return Connection(**ConnectionSchema().load(connection_info or {}))


def load_source(source_environment: dict[str, Any] | None) -> SourceOptions:
    return SourceOptions(**SourceEnvironmentSchema().load(source_environment or {}))


def load_target(target_environment: dict[str, Any] | None) -> TargetOptions:
    return TargetOptions(**TargetEnvironmentSchema().load(target_environment or {}))
