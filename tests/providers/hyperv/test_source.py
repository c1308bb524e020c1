"""The hyperv source against the WinRM fake and a real smbd: inventory, checkpointed export, clear refusals."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

import conversion
from providers.abilities import ChangeTracking, NetworkInventory, PowerControl
from providers.hyperv import make_exporter
from providers.types import Cancelled, Firmware, InstanceNotFound, NullReporter, ProviderError
from tests.fixtures.hyperv_model import FakeDisk, FakeVm
from tests.providers.hyperv.conftest import host_path


class WatchingReporter(NullReporter):
    """Records the VM's checkpoints at every progress step; optionally fails or cancels mid-read."""

    def __init__(self, model, vm: str = "app01", *, fail_at=None, cancel_at=None, barrier=None) -> None:
        super().__init__()
        self.model, self.vm = model, vm
        self.fail_at, self.cancel_at, self.barrier = fail_at, cancel_at, barrier
        self.seen: list[list[str]] = []

    def step(self, done, total, message=""):
        super().step(done, total, message)
        self.seen.append(self.model.checkpoint_names(self.vm))
        if self.barrier is not None and len(self.steps) == 1:
            self.barrier.wait(30)
        if self.fail_at is not None and len(self.steps) >= self.fail_at:
            raise RuntimeError("injected failure mid-read")
        if self.cancel_at is not None and len(self.steps) >= self.cancel_at:
            self.cancelled = True


def ops(model) -> list[str]:
    return [op for op, _, _ in model.log]


def leftovers(staging: Path) -> list[str]:
    return sorted(p.name for p in staging.glob("*.part")) if staging.exists() else []


@pytest.fixture
def exporter(model, connection):
    return make_exporter(connection, {"chunk_size_mb": 1})


def test_abilities_and_validation(exporter):
    assert isinstance(exporter, NetworkInventory) and isinstance(exporter, PowerControl)
    assert isinstance(exporter, ChangeTracking)
    exporter.validate()


def test_bad_winrm_credentials_are_a_clear_error(connection, model):
    with pytest.raises(ProviderError, match="rejected the credentials") as exc:
        make_exporter({**connection, "password": "wrong-password"}, {}).validate()
    assert "wrong-password" not in str(exc.value)


def test_bad_smb_credentials_are_a_clear_error(connection, model):
    with pytest.raises(ProviderError, match="SMB .*rejected the credentials"):
        make_exporter({**connection, "smb_password": "nope"}, {}).validate()


def test_an_unreachable_host_is_a_clear_error(connection):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(ProviderError, match="cannot reach WinRM"):
        make_exporter({**connection, "port": closed}, {"timeout_seconds": 10}).list_instances()


def test_an_untrusted_certificate_is_refused_unless_allowed(connection, model):
    with pytest.raises(ProviderError, match="TLS"):
        make_exporter({**connection, "allow_untrusted": False}, {}).validate()


def test_listing_reads_pages_and_filters(model, connection):
    for n in range(3):
        model.add(FakeVm(f"app0{n + 2}", [FakeDisk(host_path("app.vhdx"), 1)]))
    exporter = make_exporter(connection, {"page_size": 2})
    names = [vm.name for vm in exporter.list_instances()]
    assert names == ["app01", "app02", "app03", "app04", "db01", "legacy"]
    pages = [(p["skip"], p["first"]) for op, p, _ in model.log if op == "list-vms"]
    assert pages == [(0, 2), (2, 2), (4, 2), (6, 2)]
    assert [vm.name for vm in exporter.list_instances("APP0")] == ["app01", "app02", "app03", "app04"]


def test_a_vm_is_described_with_firmware_disks_nics_and_services(exporter, model):
    vm = exporter.get_instance("app01")
    assert vm.id == model.vms[0].id and exporter.get_instance(vm.id) == vm
    assert vm.firmware_type is Firmware.EFI and vm.secure_boot and vm.power_state == "running"
    assert [(d.id, d.format, d.allocation_type) for d in vm.disks] == [
        ("SCSI-0-0", "vhdx", "dynamic"), ("SCSI-0-1", "vhdx", "dynamic")]
    assert [(n.mac_address, n.network_name, n.vlan_id) for n in vm.nics] == [("00:15:5d:00:00:01", "External", 12)]
    assert "Heartbeat" in vm.guest_services and "Guest Service Interface" not in vm.guest_services
    legacy = exporter.get_instance("legacy")
    assert legacy.firmware_type is Firmware.BIOS and not legacy.secure_boot
    assert [(d.format, d.allocation_type) for d in legacy.disks] == [("vhd", "fixed"), ("vhd", "dynamic")]
    with pytest.raises(InstanceNotFound):
        exporter.get_instance("nope")
    model.add(FakeVm("app01", []))
    with pytest.raises(ProviderError, match="2 VMs are named"):
        exporter.get_instance("app01")


def test_a_hostile_vm_name_reaches_the_host_as_data(exporter, model):
    name = "evil'; Remove-VM -Name * -Force; '$(Stop-Computer -Force)\u2019"
    model.add(FakeVm(name, [FakeDisk(host_path("app.vhdx"), 1)]))
    assert exporter.get_instance(name).name == name
    op, params, _ = model.log[-1]
    assert op == "get-vm" and params == {"instance": name}
    assert [vm.name for vm in exporter.list_instances("'; Remove")] == [name]


def test_networks_are_the_virtual_switches(exporter):
    assert [(n["name"], n["switch_type"]) for n in exporter.list_networks()] == [
        ("External", "External"), ("Internal", "Internal")]
    assert exporter.list_storage()[0]["name"].endswith("Virtual Hard Disks")


def test_hot_export_reads_the_parent_while_the_checkpoint_holds_writes(exporter, model, source_raw, ctx):
    vm = exporter.get_instance("app01")
    reporter = WatchingReporter(model)
    ref = exporter.export_disk(vm, vm.disks[0], ctx, reporter)
    assert ref.format == "vhdx" and ref.size_bytes == vm.disks[0].size_bytes
    assert Path(ref.path).parent == ctx.staging_dir
    assert conversion.compare(ref.path, "vhdx", source_raw, "raw", same_size=True)
    assert len(reporter.steps) >= 3, "one progress step per 1 MiB read"
    assert all(names == ["coriolis-m1"] for names in reporter.seen), "read while the checkpoint existed"
    checkpoint = next(p for op, p, _ in model.log if op == "create-checkpoint")
    assert checkpoint["checkpointType"] == "ProductionOnly"
    assert model.checkpoint_names("app01") == [], "the checkpoint was merged away"
    assert model.vms[0].disks[0].path == host_path("app.vhdx") and model.vms[0].disks[0].vhd_type == "Dynamic"
    assert leftovers(ctx.staging_dir) == []

    again = NullReporter()
    assert exporter.export_disk(vm, vm.disks[0], ctx, again) == ref
    assert any("already exported" in m for _, m in again.events) and not again.steps


def test_disks_exported_side_by_side_share_one_checkpoint(exporter, model, ctx):
    vm = exporter.get_instance("app01")
    barrier = threading.Barrier(2)
    reporters = [WatchingReporter(model, barrier=barrier) for _ in vm.disks]
    refs, errors = {}, []

    def run(i):
        try:
            refs[i] = exporter.export_disk(vm, vm.disks[i], ctx, reporters[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(refs) == 2
    assert ops(model).count("create-checkpoint") == 1, "the second disk joined the first one's checkpoint"
    assert all(names == ["coriolis-m1"] for r in reporters for names in r.seen)
    assert model.checkpoint_names("app01") == []


@pytest.mark.parametrize("index", [0, 1])
def test_fixed_and_dynamic_vhds_are_read_as_vhd(exporter, source_raw, ctx, index):
    vm = exporter.get_instance("legacy")
    ref = exporter.export_disk(vm, vm.disks[index], ctx, NullReporter())
    assert ref.format == "vhd" and Path(ref.path).suffix == ".vhd"
    assert conversion.compare(ref.path, "vhd", source_raw, "raw", same_size=False)


def test_a_failure_mid_read_removes_the_checkpoint_and_the_partial_file(exporter, model, ctx):
    vm = exporter.get_instance("app01")
    reporter = WatchingReporter(model, fail_at=2)
    with pytest.raises(RuntimeError, match="injected"):
        exporter.export_disk(vm, vm.disks[0], ctx, reporter)
    assert reporter.seen[0] == ["coriolis-m1"]
    assert model.checkpoint_names("app01") == [] and leftovers(ctx.staging_dir) == []


def test_a_cancel_mid_read_removes_the_checkpoint(exporter, model, ctx):
    vm = exporter.get_instance("app01")
    with pytest.raises(Cancelled):
        exporter.export_disk(vm, vm.disks[0], ctx, WatchingReporter(model, cancel_at=2))
    assert model.checkpoint_names("app01") == [] and leftovers(ctx.staging_dir) == []


def test_cleanup_removes_a_checkpoint_a_dead_worker_left(exporter, model, ctx):
    vm = exporter.get_instance("app01")
    model._checkpoint(model.vms[0], "coriolis-m1", production=True)  # what a killed export task leaves
    assert model.vms[0].disks[0].path.endswith(".avhdx")
    ctx.staging_dir.mkdir(parents=True)
    (ctx.staging_dir / ".hyperv-created").write_text("disk-SCSI-0-0.vhdx.part\n")
    (ctx.staging_dir / "disk-SCSI-0-0.vhdx.part").write_bytes(b"partial")
    exporter.cleanup(ctx)
    exporter.cleanup(ctx)  # safe to repeat
    assert model.checkpoint_names("app01") == [] and not list(ctx.staging_dir.iterdir())
    assert model.vms[0].disks[0].path == host_path("app.vhdx")
    assert exporter.get_instance(vm.id).disks[0].allocation_type == "dynamic"


def test_a_leftover_checkpoint_is_replaced_by_a_fresh_one(exporter, model, ctx, source_raw):
    """A redelivered export finds its own checkpoint (the VM's disks on its AVHDX): merged, then taken afresh."""
    vm = exporter.get_instance("app01")
    model._checkpoint(model.vms[0], "coriolis-m1", production=True)
    assert exporter.get_instance("app01").disks[0].allocation_type == "differencing"
    ref = exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert conversion.compare(ref.path, "vhdx", source_raw, "raw", same_size=True)
    assert ops(model)[-3:] == ["remove-checkpoint", "create-checkpoint", "remove-checkpoint"]
    assert model.checkpoint_names("app01") == [] and model.vms[0].disks[0].path == host_path("app.vhdx")


def test_a_second_disk_task_starting_after_the_checkpoint_joins_it(exporter, model, ctx, source_raw):
    """Disk tasks start at different times (read slots): a later one sees the VM on this run's AVHDX."""
    vm = exporter.get_instance("app01")
    started = threading.Event()
    late: dict = {}

    class FirstReader(NullReporter):
        def step(self, done, total, message=""):
            super().step(done, total, message)
            if not started.is_set():
                started.set()
                late["ref"] = exporter.export_disk(vm, vm.disks[1], ctx, NullReporter())

    first = exporter.export_disk(vm, vm.disks[0], ctx, FirstReader())
    assert conversion.compare(first.path, "vhdx", source_raw, "raw", same_size=True)
    assert late["ref"].disk_id == "SCSI-0-1" and ops(model).count("create-checkpoint") == 1
    assert model.checkpoint_names("app01") == []


def test_a_pass_through_disk_is_refused_clearly(exporter, model, ctx):
    vm = exporter.get_instance("db01")
    with pytest.raises(ProviderError, match="pass-through physical disk"):
        exporter.export_disk(vm, vm.disks[1], ctx, NullReporter())
    assert "create-checkpoint" not in ops(model)


def test_a_differencing_chain_is_refused_clearly(exporter, model, connection, ctx):
    model.vms[0].disks[0] = FakeDisk(host_path("app_8F3A.avhdx"), 6 << 20, "SCSI", 0, 0,
                                     vhd_type="Differencing", parent=host_path("app.vhdx"))
    vm = exporter.get_instance("app01")
    with pytest.raises(ProviderError, match=r"differencing disk .*app_8F3A\.avhdx.*other checkpoints"):
        exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert model.checkpoint_names("app01") == [] and model.vms[0].disks[0].path.endswith("app_8F3A.avhdx")
    cold = make_exporter(connection, {"power_off": True})
    with pytest.raises(ProviderError, match=r"differencing disk .*app_8F3A\.avhdx over .*app\.vhdx"):
        cold.export_disk(vm, vm.disks[0], ctx, NullReporter())


def test_a_guest_that_cannot_freeze_fails_the_production_checkpoint(exporter, model, ctx):
    model.vms[0].production_checkpoints = False
    vm = exporter.get_instance("app01")
    with pytest.raises(ProviderError, match="Cannot create production checkpoint"):
        exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert model.checkpoint_names("app01") == []


def test_a_cold_export_shuts_the_vm_down_and_takes_no_checkpoint(model, connection, source_raw, ctx):
    exporter = make_exporter(connection, {"power_off": True})
    vm = exporter.get_instance("app01")
    ref = exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert model.vms[0].state == "Off" and "create-checkpoint" not in ops(model)
    assert conversion.compare(ref.path, "vhdx", source_raw, "raw", same_size=True)


def test_a_missing_file_on_the_share_is_a_clear_error(exporter, model, ctx):
    model.vms[0].disks[1].path = host_path("gone.vhdx")
    vm = exporter.get_instance("app01")
    with pytest.raises(ProviderError, match=r"gone\.vhdx"):
        exporter.export_disk(vm, vm.disks[1], ctx, NullReporter())
    assert model.checkpoint_names("app01") == []


def test_reads_are_limited_per_host(exporter):
    vm = exporter.get_instance("app01")
    assert exporter.source_host_key(vm) == "hyperv:127.0.0.1"


def test_options_are_validated_without_echoing_passwords(connection):
    with pytest.raises(ProviderError, match="transport") as exc:
        make_exporter({**connection, "transport": "digest"}, {}).validate()
    assert connection["password"] not in str(exc.value)
    with pytest.raises(ProviderError, match="https"):
        make_exporter({**connection, "transport": "basic", "scheme": "http"}, {}).validate()



def test_a_named_share_serves_a_host_folder(model, connection, source_raw, ctx):
    exporter = make_exporter({**connection, "smb_shares": {"C:\\Hyper-V": "\\\\127.0.0.1\\C$\\Hyper-V"}}, {})
    vm = exporter.get_instance("app01")
    ref = exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert conversion.compare(ref.path, "vhdx", source_raw, "raw", same_size=True)


def test_disk_files_on_a_cloud_metadata_address_are_refused(model, connection, ctx):
    """A host (or VMM) may name any SMB server for a disk: the endpoint host policy applies to it too."""
    exporter = make_exporter(connection, {})
    vm = exporter.get_instance("app01")
    model.vms[0].disks[0].path = "\\\\169.254.169.254\\share\\app.vhdx"
    with pytest.raises(ProviderError, match="169.254.169.254"):
        exporter.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert "create-checkpoint" in ops(model) and model.checkpoint_names("app01") == []
