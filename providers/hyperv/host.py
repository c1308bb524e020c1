"""Hyper-V operations on one host, each one PowerShell script over WinRM."""

from __future__ import annotations

from typing import Any

from providers.hyperv import scripts
from providers.hyperv.client import WinRMClient
from providers.hyperv.inventory import drive_paths


class HypervHost:
    """A standalone Hyper-V host (or cluster node): inventory, checkpoints, shutdown.

    VMs come back in the projection ``inventory.describe`` reads; checkpoint drives as
    ``{disk id: path of the file the checkpoint froze}``.
    """

    kind = "hyperv"

    def __init__(self, client: WinRMClient, timeout: int) -> None:
        self.client = client
        self.timeout = timeout

    def about(self) -> dict[str, Any]:
        found = self.client.run_json(scripts.about(), "reading the Hyper-V host")
        return found[0] if found else {}

    def list_page(self, name_filter: str, skip: int, first: int) -> list[dict[str, Any]]:
        return self.client.run_json(scripts.list_vms(name_filter, skip, first), "listing VMs")

    def find(self, instance: str) -> list[dict[str, Any]]:
        return self.client.run_json(scripts.get_vm(instance), f"reading VM {instance}")

    def networks(self) -> list[dict[str, Any]]:
        return [
            {"id": s.get("Id") or s.get("Name"), "name": s.get("Name"), "switch_type": s.get("SwitchType"),
             "adapter": s.get("NetAdapterInterfaceDescription")}
            for s in self.client.run_json(scripts.switches(), "listing virtual switches")
        ]

    def disk_server(self, vm: dict[str, Any], endpoint_host: str) -> str:
        """The SMB server holding a VM's disk files: the Hyper-V host itself."""
        return endpoint_host

    def create_checkpoint(self, vm_id: str, name: str, checkpoint_type: str) -> dict[str, str]:
        drives = self.client.run_json(scripts.create_checkpoint(vm_id, name, checkpoint_type),
                                      f"taking checkpoint {name}")
        return drive_paths(drives)

    def checkpoint_paths(self, vm_id: str, name: str) -> dict[str, str]:
        return drive_paths(self.client.run_json(scripts.get_checkpoint(vm_id, name), f"reading checkpoint {name}"))

    def remove_checkpoint(self, vm_id: str, name: str) -> int:
        found = self.client.run_json(scripts.remove_checkpoint(vm_id, name, self.timeout),
                                     f"removing checkpoint {name}")
        return int(found[0].get("Removed") or 0) if found else 0

    def power_off(self, vm_id: str) -> str:
        found = self.client.run_json(scripts.power_off(vm_id), "shutting the VM down")
        return str(found[0].get("State") or "") if found else ""
