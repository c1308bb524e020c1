"""Marshmallow schemas for the ova provider's connection info and source options."""

from __future__ import annotations

from marshmallow import Schema, fields


class ConnectionSchema(Schema):
    """Where the appliances are: a local directory of .ova files and VMX folders."""

    path = fields.String(
        required=True,
        metadata={"description": "Directory holding .ova files and folders with a .vmx and its .vmdk files"},
    )


class SourceEnvironmentSchema(Schema):
    """How strictly to check what is exported."""

    verify_manifest = fields.Boolean(
        load_default=True, metadata={"description": "Check disk digests against the OVA's .mf manifest"}
    )
    require_manifest = fields.Boolean(
        load_default=False, metadata={"description": "Refuse OVAs that carry no .mf manifest"}
    )
