"""Marshmallow schemas for the scvmm provider: the VMM server over WinRM, its hosts' files over SMB."""

from __future__ import annotations

from marshmallow import fields, validate

from providers.hyperv.options import SourceEnvironmentSchema as HypervEnvironmentSchema
from providers.hyperv.options import WinRMConnectionSchema


class ConnectionSchema(WinRMConnectionSchema):
    """A System Center VMM server (WinRM, VirtualMachineManager module); SMB credentials for its Hyper-V hosts."""

    vmm_server = fields.String(
        load_default="localhost", validate=validate.Length(1, 255),
        metadata={"description": "the VMM server Get-SCVMMServer connects to from the WinRM host"},
    )


class SourceEnvironmentSchema(HypervEnvironmentSchema):
    """As for hyperv; VMM takes the checkpoint type from each VM's own setting."""
