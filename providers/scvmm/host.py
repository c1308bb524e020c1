"""VMM operations on the VMs of every Hyper-V host a System Center VMM server manages."""

from __future__ import annotations

from typing import Any

from providers.hyperv.client import WinRMClient
from providers.hyperv.inventory import drive_paths
from providers.scvmm import scripts


class ScvmmHost:
    """A VMM server reached over WinRM; the same operations as ``hyperv.host.HypervHost``.

    Args:
        client: WinRM to the VMM server (or a machine with the VMM console installed).
        server: the VMM server name ``Get-SCVMMServer`` connects to (``localhost`` on the server itself).
    """

    kind = "scvmm"

    def __init__(self, client: WinRMClient, server: str) -> None:
        self.client = client
        self.server = server

    def about(self) -> dict[str, Any]:
        found = self.client.run_json(scripts.about(self.server), "reading the VMM server")
        return found[0] if found else {}

    def list_page(self, name_filter: str, skip: int, first: int) -> list[dict[str, Any]]:
        return self.client.run_json(scripts.list_vms(self.server, name_filter, skip, first), "listing VMs")

    def find(self, instance: str) -> list[dict[str, Any]]:
        return self.client.run_json(scripts.get_vm(self.server, instance), f"reading VM {instance}")

    def networks(self) -> list[dict[str, Any]]:
        return [{"id": n.get("Id"), "name": n.get("Name"), "logical_network": n.get("LogicalNetwork")}
                for n in self.client.run_json(scripts.networks(self.server), "listing VM networks")]

    def disk_server(self, vm: dict[str, Any], endpoint_host: str) -> str:
        """The Hyper-V host running the VM: its files are read over SMB from there."""
        return str(vm.get("HostName") or endpoint_host)

    def create_checkpoint(self, vm_id: str, name: str, checkpoint_type: str) -> dict[str, str]:
        drives = self.client.run_json(scripts.create_checkpoint(self.server, vm_id, name), f"taking checkpoint {name}")
        return drive_paths(drives)

    def checkpoint_paths(self, vm_id: str, name: str) -> dict[str, str]:
        return drive_paths(self.client.run_json(scripts.get_checkpoint(self.server, vm_id, name),
                                                f"reading checkpoint {name}"))

    def remove_checkpoint(self, vm_id: str, name: str) -> int:
        found = self.client.run_json(scripts.remove_checkpoint(self.server, vm_id, name), f"removing checkpoint {name}")
        return int(found[0].get("Removed") or 0) if found else 0

    def power_off(self, vm_id: str) -> str:
        found = self.client.run_json(scripts.power_off(self.server, vm_id), "shutting the VM down")
        return str(found[0].get("State") or "") if found else ""
