"""The scvmm source against the WinRM fake answering VirtualMachineManager cmdlets, disks from a real smbd."""

from __future__ import annotations

import pytest

import conversion
from providers.abilities import NetworkInventory, PowerControl
from providers.registry import get_provider
from providers.scvmm import make_exporter
from providers.types import Firmware, NullReporter, ProviderError


@pytest.fixture
def exporter(model, vmm_connection):
    return make_exporter(vmm_connection, {"chunk_size_mb": 1, "page_size": 1})


def test_scvmm_is_registered_with_its_schemas():
    spec = get_provider("scvmm")
    assert "vmm_server" in spec.connection_schema().fields and spec.abilities == ["source"]


def test_inventory_comes_from_vmm(exporter, model):
    assert isinstance(exporter, NetworkInventory) and isinstance(exporter, PowerControl)
    exporter.validate()
    assert [vm.name for vm in exporter.list_instances()] == ["app01", "db01"]
    assert [(p["skip"], p["first"]) for op, p, _ in model.log if op == "scvmm-list-vms"] == [(0, 1), (1, 1), (2, 1)]
    vm = exporter.get_instance("app01")
    assert vm.firmware_type is Firmware.EFI and vm.secure_boot and vm.power_state == "running"
    assert [(d.id, d.allocation_type) for d in vm.disks] == [("SCSI-0-0", "dynamic"), ("SCSI-0-1", "dynamic")]
    assert [(n.mac_address, n.vlan_id) for n in vm.nics] == [("00:15:5d:00:00:01", 12)]
    assert [n["name"] for n in exporter.list_networks()] == ["External", "Internal"]
    assert all(p.get("server") == "localhost" for _, p, _ in model.log), "every script connects to the VMM server"


def test_reads_are_limited_per_hyperv_host(exporter):
    assert exporter.source_host_key(exporter.get_instance("app01")) == "scvmm:localhost/127.0.0.1"


def test_export_reads_the_vms_host_through_a_vmm_checkpoint(exporter, model, source_raw, ctx):
    vm = exporter.get_instance("app01")
    seen = []

    class Watching(NullReporter):
        def step(self, done, total, message=""):
            super().step(done, total, message)
            seen.append(model.checkpoint_names("app01"))

    ref = exporter.export_disk(vm, vm.disks[0], ctx, Watching())
    assert conversion.compare(ref.path, "vhdx", source_raw, "raw", same_size=True)
    assert seen and all(names == ["coriolis-m1"] for names in seen)
    assert [op for op, _, _ in model.log if "checkpoint" in op] == [
        "scvmm-remove-checkpoint", "scvmm-create-checkpoint", "scvmm-remove-checkpoint"]
    assert model.checkpoint_names("app01") == []


def test_a_pass_through_disk_is_refused(exporter, model, ctx):
    vm = exporter.get_instance("db01")
    with pytest.raises(ProviderError, match="pass-through"):
        exporter.export_disk(vm, vm.disks[1], ctx, NullReporter())


def test_cleanup_removes_a_leftover_vmm_checkpoint(exporter, model, ctx):
    model._checkpoint(model.vms[0], "coriolis-m1", production=False)
    exporter.cleanup(ctx)
    assert model.checkpoint_names("app01") == [] and model.vms[0].disks[0].path.endswith("app.vhdx")
