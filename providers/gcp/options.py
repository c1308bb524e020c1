"""Connection info and target environment of the gcp destination (marshmallow schemas)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import HostNotAllowed, check_host

SUBNETWORK = r"^(projects/[^/]+/)?regions/[a-z0-9-]+/subnetworks/[a-z]([-a-z0-9]*[a-z0-9])?$"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{url!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValidationError("URLs must not carry credentials")
    try:
        check_host(parts.hostname)
    except HostNotAllowed as exc:
        raise ValidationError(str(exc)) from None


class ConnectionSchema(Schema):
    """A service account key (JSON) of a project, the zone instances go to and the bucket images go through."""

    project_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$"))
    zone = fields.String(required=True, validate=validate.Regexp(r"^[a-z]+-[a-z]+\d+-[a-z]$"))
    bucket = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]$"))
    service_account_key = fields.Dict(required=True, load_only=True,
                                      metadata={"description": "The service account's JSON key, as an object"})
    compute_endpoint = fields.String(load_default=None, allow_none=True, validate=[_check_url],
                                     metadata={"description": "Compute API root (private endpoints)"})
    storage_endpoint = fields.String(load_default=None, allow_none=True, validate=[_check_url],
                                     metadata={"description": "Cloud Storage root (private endpoints)"})

    @validates_schema
    def _key(self, data: dict[str, Any], **_: Any) -> None:
        key = data.get("service_account_key") or {}
        missing = [k for k in ("client_email", "private_key", "token_uri") if not key.get(k)]
        if key.get("type") != "service_account" or missing:
            raise ValidationError("a service account JSON key with client_email, private_key and token_uri is "
                                  "needed", "service_account_key")
        try:
            _check_url(key["token_uri"])
        except ValidationError as exc:
            raise ValidationError(f"token_uri: {exc.messages[0]}", "service_account_key") from None
        if len(json.dumps(key)) > 16384:
            raise ValidationError("the key is too large", "service_account_key")


class TargetEnvironmentSchema(Schema):
    """The instance made at the destination."""

    machine_type = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[a-z0-9-]{1,63}$"),
                                 metadata={"description": "default: the smallest type with the source's CPUs and "
                                           "memory"})
    network_map = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Regexp(SUBNETWORK)),
                              load_default=dict,
                              metadata={"description": "source network -> regions/<r>/subnetworks/<s> ('*' for "
                                        "any other)"})
    nic_type = fields.String(load_default="GVNIC", validate=validate.OneOf(["GVNIC", "VIRTIO_NET"]))
    chunk_size_mib = fields.Integer(load_default=16, validate=validate.Range(min=1, max=256),
                                    metadata={"description": "resumable upload chunk (MiB; a multiple of 256 KiB)"})
    active_timeout = fields.Integer(load_default=1800, validate=validate.Range(min=5, max=86400))


@dataclass(frozen=True)
class Connection:
    project_id: str
    zone: str
    bucket: str
    service_account_key: dict[str, Any] = field(repr=False)
    compute_endpoint: str | None = None
    storage_endpoint: str | None = None

    @property
    def compute(self) -> str:
        return (self.compute_endpoint or "https://compute.googleapis.com").rstrip("/") + "/compute/v1"

    @property
    def region(self) -> str:
        return self.zone.rsplit("-", 1)[0]


@dataclass(frozen=True)
class TargetOptions:
    machine_type: str | None = None
    network_map: dict[str, str] = field(default_factory=dict)
    nic_type: str = "GVNIC"
    chunk_size_mib: int = 16
    active_timeout: int = 1800


def load_connection(connection_info: dict[str, Any]) -> Connection:
    return Connection(**ConnectionSchema().load(connection_info or {}))


def load_target(target_environment: dict[str, Any] | None) -> TargetOptions:
    return TargetOptions(**TargetEnvironmentSchema().load(target_environment or {}))
