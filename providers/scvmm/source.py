"""The scvmm exporter: VMs from System Center VMM, disks read over SMB from the Hyper-V host running each."""

from __future__ import annotations

from marshmallow import Schema

from providers.hyperv.source import WinRMExporter
from providers.scvmm.host import ScvmmHost
from providers.scvmm.options import ConnectionSchema, SourceEnvironmentSchema
from providers.types import ProviderError, VmInfo


class ScvmmExporter(WinRMExporter):
    """Source provider over a VMM server: inventory and checkpoints through VMM, disk files from the VM's host."""

    provider = "scvmm"
    connection_schema: type[Schema] = ConnectionSchema
    environment_schema: type[Schema] = SourceEnvironmentSchema

    def _host(self) -> ScvmmHost:  # type: ignore[override]
        return ScvmmHost(self._client(), self.conn["vmm_server"])

    def validate(self) -> None:
        """Connect to the VMM server through its PowerShell module."""
        if not self._host().about().get("Name"):
            raise ProviderError(f"{self.conn['host']} answered without VMM server details")

    def list_storage(self) -> list[dict]:
        return []

    def source_host_key(self, vm: VmInfo) -> str:
        """The host disk reads load: ``scvmm:<VMM server>/<Hyper-V host running the VM>``."""
        key = f"scvmm:{self.conn['host']}"
        try:
            host = self._host()
            return f"{key}/{host.disk_server(self._find(host, vm.id), self.conn['host'])}"
        except ProviderError:
            return key
