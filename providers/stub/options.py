"""Options of the stub provider: sizes, throttling and failure injection."""

from marshmallow import Schema, fields, validate

from providers.netpolicy import AllowedHost


class StubConnectionSchema(Schema):
    instances = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        load_default=None,
        metadata={"description": "instance names the source lists; empty: any name exists"},
    )
    storage_dir = fields.String(load_default=None, metadata={"description": "destination only"})
    templates = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)), load_default=list,
        metadata={"description": "instance names the source reports as templates"},
    )
    password = fields.String(
        load_default=None, metadata={"description": "not used; a credential for secret-handling tests to carry"}
    )
    host = fields.String(
        load_default=None,
        validate=AllowedHost(),
        metadata={"description": "not contacted; checked like a real provider's host (providers/netpolicy.py)"},
    )
    networks = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)), load_default=lambda: ["stub-net"],
        metadata={"description": "network names the endpoint lists (GET .../networks)"},
    )
    storage_backends = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)), load_default=lambda: ["stub-storage"],
        metadata={"description": "storage backend names the endpoint lists (GET .../storage)"},
    )


class StubSourceSchema(Schema):
    disks = fields.Integer(load_default=1, validate=validate.Range(1, 16))
    disk_size_mb = fields.Integer(load_default=16, validate=validate.Range(1, 1 << 20))
    instance_disks = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Integer(validate=validate.Range(1, 1 << 20))),
        load_default=dict,
        metadata={"description": "per-instance disk sizes in MiB, overriding disks/disk_size_mb"},
    )
    data_fraction = fields.Float(load_default=0.5, validate=validate.Range(0.0, 1.0))
    rate_mbps = fields.Float(load_default=0.0, validate=validate.Range(0.0))
    fail_export = fields.Boolean(load_default=False)
    data_version = fields.Integer(
        load_default=0, metadata={"description": "changes the content of mutated_chunks (a source that changes)"}
    )
    mutated_chunks = fields.List(fields.Integer(validate=validate.Range(0)), load_default=list)
    claim_format = fields.String(
        load_default="raw",
        validate=validate.OneOf(["raw", "qcow2", "vmdk"]),
        metadata={"description": "the format the export claims (not raw: conversion fails, for failure tests)"},
    )


class StubDestinationConnectionSchema(Schema):
    # null (the shared connection schema allows it) means the default, as an omitted value does: the worker
    # sets the first directory the operator allows for stub
    storage_dir = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "default: the first directory the operator allows for stub"},
    )
    password = fields.String(load_default=None, metadata={"description": "not used (secret-handling tests)"})
    host = fields.String(load_default=None, validate=AllowedHost())
    instances = fields.List(fields.String(), load_default=None)
    networks = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)), load_default=lambda: ["stub-net"],
        metadata={"description": "network names the endpoint lists (GET .../networks)"},
    )
    storage_backends = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)), load_default=lambda: ["stub-storage"],
        metadata={"description": "storage backend names the endpoint lists (GET .../storage)"},
    )


class StubDestinationSchema(Schema):
    disk_format = fields.String(load_default="qcow2", validate=validate.OneOf(["raw", "qcow2", "vmdk", "vhdx"]))
    morph = fields.Boolean(load_default=False, metadata={"description": "run OS morphing (fails: no OS)"})
    rate_mbps = fields.Float(load_default=0.0, validate=validate.Range(0.0))
    fail_import = fields.Boolean(load_default=False)
    fail_boot = fields.Boolean(load_default=False)
    network_map = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    storage_mappings = fields.Dict(load_default=dict)
