"""Connection info and target environment of the azure destination (Azure or AzureStack; marshmallow schemas)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import HostNotAllowed, check_host

# ARM API versions per profile: AzureStack Hub serves the older "hybrid" profile.
API_PROFILES: dict[str, dict[str, str]] = {
    "latest": {"compute": "2023-09-01", "disks": "2023-04-02", "network": "2023-05-01"},
    "2020-09-01-hybrid": {"compute": "2020-06-01", "disks": "2019-07-01", "network": "2018-11-01"},
}
CLOUDS = {
    "AzureCloud": {"management": "https://management.azure.com", "authority": "https://login.microsoftonline.com",
                   "storage_suffix": "blob.core.windows.net"},
}
SUBNET_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/"
                       r"[^/]+/subnets/[^/]+$", re.IGNORECASE)


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


def _url(**kw: Any) -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=2048), _check_url], **kw)


class ConnectionSchema(Schema):
    """A service principal in a subscription, the resource group and storage account disks go through.

    ``cloud: AzureStack`` needs its own ``management_endpoint``, ``authority_endpoint`` and ``blob_endpoint``
    (and usually ``api_profile: 2020-09-01-hybrid``).
    """

    cloud = fields.String(load_default="AzureCloud", validate=validate.OneOf(["AzureCloud", "AzureStack"]))
    subscription_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    tenant_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_secret = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=512))
    resource_group = fields.String(required=True, validate=validate.Regexp(r"^[-\w._()]{1,90}$"))
    location = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9]{1,40}$"))
    storage_account = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9]{3,24}$"))
    storage_account_key = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=512))
    api_profile = fields.String(load_default="latest", validate=validate.OneOf(sorted(API_PROFILES)))
    management_endpoint = _url(metadata={"description": "ARM URL (AzureStack: its own)"})
    authority_endpoint = _url(metadata={"description": "Microsoft Entra / ADFS authority (AzureStack: its own)"})
    blob_endpoint = _url(metadata={"description": "The storage account's blob URL (AzureStack or an emulator)"})

    @validates_schema
    def _stack(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("cloud") == "AzureStack":
            missing = [k for k in ("management_endpoint", "authority_endpoint", "blob_endpoint") if not data.get(k)]
            if missing:
                raise ValidationError(f"AzureStack needs {', '.join(missing)}", "_schema")


class TargetEnvironmentSchema(Schema):
    """The VM made at the destination."""

    vm_size = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_]{1,64}$"),
                            metadata={"description": "e.g. Standard_D2s_v3; default: the smallest size with the "
                                      "source's CPUs and memory"})
    network_map = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Regexp(SUBNET_ID)),
                              load_default=dict,
                              metadata={"description": "source network -> subnet resource id ('*' for any other)"})
    disk_sku = fields.String(load_default="Standard_LRS",
                             validate=validate.OneOf(["Standard_LRS", "StandardSSD_LRS", "Premium_LRS"]))
    container = fields.String(load_default="coriolis", validate=validate.Regexp(r"^[a-z0-9](-?[a-z0-9]){2,62}$"))
    parallel_writes = fields.Integer(load_default=8, validate=validate.Range(min=1, max=64))
    active_timeout = fields.Integer(load_default=1800, validate=validate.Range(min=5, max=86400))


@dataclass(frozen=True)
class Connection:
    subscription_id: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    resource_group: str = ""
    location: str = ""
    storage_account: str = ""
    storage_account_key: str = field(default="", repr=False)
    cloud: str = "AzureCloud"
    api_profile: str = "latest"
    management_endpoint: str | None = None
    authority_endpoint: str | None = None
    blob_endpoint: str | None = None

    @property
    def management(self) -> str:
        return (self.management_endpoint or CLOUDS["AzureCloud"]["management"]).rstrip("/")

    @property
    def authority(self) -> str:
        return (self.authority_endpoint or CLOUDS["AzureCloud"]["authority"]).rstrip("/")

    @property
    def blob_url(self) -> str:
        return (self.blob_endpoint or f"https://{self.storage_account}.{CLOUDS['AzureCloud']['storage_suffix']}"
                ).rstrip("/")

    @property
    def api_versions(self) -> dict[str, str]:
        return API_PROFILES[self.api_profile]


@dataclass(frozen=True)
class TargetOptions:
    vm_size: str | None = None
    network_map: dict[str, str] = field(default_factory=dict)
    disk_sku: str = "Standard_LRS"
    container: str = "coriolis"
    parallel_writes: int = 8
    active_timeout: int = 1800


def load_connection(connection_info: dict[str, Any]) -> Connection:
    """Validate connection info; raises ``marshmallow.ValidationError``."""
    return Connection(**ConnectionSchema().load(connection_info or {}))


def load_target(target_environment: dict[str, Any] | None) -> TargetOptions:
    return TargetOptions(**TargetEnvironmentSchema().load(target_environment or {}))
