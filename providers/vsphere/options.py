"""Marshmallow schemas for the vsphere provider's connection info and source options."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from providers.netpolicy import AllowedHost


class ConnectionSchema(Schema):
    """A vCenter or ESXi endpoint, as in upstream Coriolis' ``vmware_vsphere`` connection info."""

    host = fields.String(
        required=True, validate=AllowedHost(), metadata={"description": "vCenter or ESXi host name or address"}
    )
    port = fields.Integer(
        load_default=443, validate=validate.Range(1, 65535), metadata={"description": "HTTPS port of the SDK"}
    )
    username = fields.String(required=True, validate=validate.Length(1, 255), metadata={"description": "user name"})
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(0, 1024), metadata={"description": "password"}
    )
    allow_untrusted = fields.Boolean(
        load_default=False, metadata={"description": "accept a certificate that does not verify (self-signed)"}
    )


class SourceEnvironmentSchema(Schema):
    """How to list and export: name, folder, cluster and template filters, cold export, changed-block tracking,
    disk transport."""

    name_filter = fields.String(
        load_default=None,
        validate=validate.Length(1, 255),
        metadata={"description": "only list instances whose name contains this text (case-insensitive)"},
    )
    folder = fields.String(
        load_default=None,
        validate=validate.Length(1, 1024),
        metadata={"description": "only list instances in this VM folder or below it (inventory path, e.g. "
                                 "DC0/vm/prod)"},
    )
    cluster = fields.String(
        load_default=None,
        validate=validate.Length(1, 1024),
        metadata={"description": "only list instances on hosts of this cluster (inventory path, e.g. "
                                 "DC0/host/DC0_C0)"},
    )
    power_off = fields.Boolean(
        load_default=False,
        metadata={"description": "power the VM off and export cold instead of through a snapshot"},
    )
    enable_cbt = fields.Boolean(
        load_default=False,
        metadata={"description": "turn on changed-block tracking on the VM before exporting (for incremental syncs)"},
    )
    templates = fields.String(
        load_default="include",
        validate=validate.OneOf(["include", "exclude", "only"]),
        metadata={"description": "whether listings show templates along VMs (include), hide them, or show only them"},
    )
    disk_transport = fields.String(
        load_default="auto",
        validate=validate.OneOf(["auto", "nfc", "datastore"]),
        metadata={"description": "how disk data is read: an NFC export lease (nfc), the datastore HTTP file "
                                 "interface (datastore), or NFC when the server offers it (auto)"},
    )
    chunk_size_mb = fields.Integer(
        load_default=8, validate=validate.Range(1, 256), metadata={"description": "size of each disk read, MiB"}
    )
    timeout_seconds = fields.Integer(
        load_default=600, validate=validate.Range(10, 86400), metadata={"description": "vSphere task timeout"}
    )
