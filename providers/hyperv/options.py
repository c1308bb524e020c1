"""Marshmallow schemas for the hyperv provider's connection info (WinRM and SMB) and source options."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from providers.netpolicy import AllowedHost

TRANSPORTS = ["ntlm", "kerberos", "credssp", "basic"]


class WinRMConnectionSchema(Schema):
    """How to reach a Windows host over WinRM, and its disk files over SMB (shared with scvmm)."""

    host = fields.String(required=True, validate=AllowedHost(), metadata={"description": "host name or address"})
    port = fields.Integer(
        load_default=None, validate=validate.Range(1, 65535),
        metadata={"description": "WinRM port (default 5986 for https, 5985 for http)"},
    )
    username = fields.String(
        required=True, validate=validate.Length(1, 255),
        metadata={"description": "user name: user, DOMAIN\\user or user@REALM (Kerberos)"},
    )
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(0, 1024), metadata={"description": "password"}
    )
    transport = fields.String(
        load_default="ntlm", validate=validate.OneOf(TRANSPORTS),
        metadata={"description": "WinRM authentication: ntlm, kerberos, credssp (needs pywinrm[credssp]) or basic"},
    )
    scheme = fields.String(
        load_default="https", validate=validate.OneOf(["https", "http"]),
        metadata={"description": "https (default); over http only ntlm, kerberos and credssp are allowed "
                                 "(they encrypt each message)"},
    )
    allow_untrusted = fields.Boolean(
        load_default=False, metadata={"description": "accept a WinRM certificate that does not verify (self-signed)"}
    )
    smb_port = fields.Integer(
        load_default=445, validate=validate.Range(1, 65535), metadata={"description": "SMB port disk files are read on"}
    )
    smb_username = fields.String(
        load_default=None, validate=validate.Length(1, 255),
        metadata={"description": "SMB user name (default: username)"},
    )
    smb_password = fields.String(
        load_default=None, load_only=True, validate=validate.Length(0, 1024),
        metadata={"description": "SMB password (default: password)"},
    )
    smb_shares = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z]:\\", error="a host folder such as D:\\VMs")),
        values=fields.String(validate=validate.Regexp(r"^\\\\[^\\/]+\\[^\\/]+", error="a share such as \\\\hv01\\vms")),
        load_default=dict,
        metadata={"description": "host folders served by a share of their own, e.g. {\"D:\\\\VMs\": "
                                 "\"\\\\\\\\hv01\\\\vms\"}; other paths are read through the drive's "
                                 "administrative share (\\\\host\\C$\\...)"},
    )

    @validates_schema
    def _no_basic_over_http(self, data: dict, **_: object) -> None:
        if data.get("scheme") == "http" and data.get("transport") == "basic":
            raise ValidationError("basic authentication sends the password in clear: use https", "scheme")


class ConnectionSchema(WinRMConnectionSchema):
    """A Hyper-V host (standalone or a cluster node) reached over WinRM; its VHD/VHDX files over SMB."""


class SourceEnvironmentSchema(Schema):
    """How to list and export: name filter, cold export or checkpoint type, read sizes."""

    name_filter = fields.String(
        load_default=None, validate=validate.Length(1, 255),
        metadata={"description": "only list instances whose name contains this text (case-insensitive)"},
    )
    power_off = fields.Boolean(
        load_default=False,
        metadata={"description": "shut the VM down and export cold instead of through a checkpoint"},
    )
    checkpoint_type = fields.String(
        load_default="ProductionOnly", validate=validate.OneOf(["ProductionOnly", "Production", "Standard"]),
        metadata={"description": "checkpoint taken for a consistent read: ProductionOnly (VSS / filesystem "
                                 "freeze in the guest, fails otherwise), Production (falls back to Standard), "
                                 "Standard"},
    )
    chunk_size_mb = fields.Integer(
        load_default=4, validate=validate.Range(1, 64), metadata={"description": "size of each SMB read, MiB"}
    )
    page_size = fields.Integer(
        load_default=50, validate=validate.Range(1, 1000),
        metadata={"description": "VMs described per WinRM call when listing"},
    )
    timeout_seconds = fields.Integer(
        load_default=300, validate=validate.Range(10, 86400),
        metadata={"description": "seconds one WinRM operation (checkpoint, merge, shutdown) may take"},
    )
