"""Disk export against vcsim: through a snapshot (never left behind), byte-identical, cold, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

import conversion
from providers.types import Cancelled, MigrationContext, NullReporter, ProviderError
from providers.vsphere import make_exporter
from tests.providers.vsphere.conftest import COLD_VM, HOT_VM, TEMPLATE_VM, find_vm, wait_task


def snapshot_names(si, name: str) -> list[str]:
    info = find_vm(si, name).snapshot
    out, todo = [], list(info.rootSnapshotList) if info else []
    while todo:
        tree = todo.pop()
        out.append(tree.name)
        todo.extend(tree.childSnapshotList or ())
    return out


class WatchingReporter(NullReporter):
    """Records which snapshots the VM had while the disk was being read; optionally fails or cancels."""

    def __init__(self, si, *, fail_at: int | None = None, cancel_at: int | None = None) -> None:
        super().__init__()
        self.si = si
        self.fail_at = fail_at
        self.cancel_at = cancel_at
        self.seen: list[list[str]] = []

    def step(self, done, total, message=""):
        super().step(done, total, message)
        self.seen.append(snapshot_names(self.si, HOT_VM))
        if self.fail_at is not None and len(self.steps) >= self.fail_at:
            raise RuntimeError("injected failure mid-read")
        if self.cancel_at is not None and len(self.steps) >= self.cancel_at:
            self.cancelled = True


@pytest.fixture
def exporter(vcsim, test_disks):
    return make_exporter(vcsim.connection_info, {"chunk_size_mb": 1})


def disk_of(exporter, vm_name: str, key: int):
    vm = exporter.get_instance(vm_name)
    return vm, vm.disk(str(key))


def leftovers(staging: Path) -> list[str]:
    return sorted(p.name for p in staging.iterdir() if p.name.endswith(".part")) if staging.exists() else []


def test_hot_export_of_a_flat_disk_is_byte_identical_and_removes_the_snapshot(
        si, exporter, test_disks, source_raw, ctx):
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    reporter = WatchingReporter(si)
    ref = exporter.export_disk(vm, disk, ctx, reporter)
    assert ref.format == "raw" and ref.size_bytes == test_disks["size"] and Path(ref.path).parent == ctx.staging_dir
    assert conversion.compare(ref.path, "raw", source_raw, "raw", same_size=True)
    assert len(reporter.steps) >= 6, "one progress step per 1 MiB chunk"
    assert all(names == ["coriolis-m1"] for names in reporter.seen), "read while the snapshot existed"
    assert snapshot_names(si, HOT_VM) == []
    assert find_vm(si, HOT_VM).runtime.powerState == "poweredOn"
    assert leftovers(ctx.staging_dir) == []

    again = NullReporter()
    assert exporter.export_disk(vm, disk, ctx, again) == ref
    assert any("already exported" in m for _, m in again.events) and not again.steps


def test_hot_export_of_a_sparse_vmdk_keeps_its_format(si, exporter, test_disks, source_raw, ctx):
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["sparse"])
    ref = exporter.export_disk(vm, disk, ctx, NullReporter())
    assert ref.format == "vmdk" and conversion.info(ref.path, "vmdk").subformat == "monolithicSparse"
    assert conversion.compare(ref.path, "vmdk", source_raw, "raw", same_size=True)
    assert snapshot_names(si, HOT_VM) == []


def test_failure_mid_read_leaves_no_snapshot_and_no_partial_file(si, exporter, test_disks, ctx):
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    reporter = WatchingReporter(si, fail_at=3)
    with pytest.raises(RuntimeError, match="injected"):
        exporter.export_disk(vm, disk, ctx, reporter)
    assert reporter.seen[-1] == ["coriolis-m1"]
    assert snapshot_names(si, HOT_VM) == []
    assert sorted(p.name for p in ctx.staging_dir.iterdir()) == [".vsphere-created"]


def test_cancel_mid_read_leaves_no_snapshot_and_no_partial_file(si, exporter, test_disks, ctx):
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    reporter = WatchingReporter(si, cancel_at=2)
    with pytest.raises(Cancelled):
        exporter.export_disk(vm, disk, ctx, reporter)
    assert snapshot_names(si, HOT_VM) == []
    assert sorted(p.name for p in ctx.staging_dir.iterdir()) == [".vsphere-created"]
    exporter.cleanup(ctx)
    assert list(ctx.staging_dir.iterdir()) == []


def test_cleanup_removes_a_snapshot_left_by_a_crashed_worker(si, exporter, test_disks, source_raw, tmp_path):
    ctx = MigrationContext(migration_id="crashed", instance=HOT_VM, staging_dir=tmp_path / "staging")
    hot = find_vm(si, HOT_VM)
    wait_task(hot.CreateSnapshot_Task(name="coriolis-crashed", memory=False, quiesce=False))
    wait_task(hot.CreateSnapshot_Task(name="someone-elses", memory=False, quiesce=False))
    assert sorted(snapshot_names(si, HOT_VM)) == ["coriolis-crashed", "someone-elses"]

    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    ref = exporter.export_disk(vm, disk, ctx, NullReporter())  # the leftover is replaced, then removed
    assert conversion.compare(ref.path, ref.format, source_raw, "raw")
    assert snapshot_names(si, HOT_VM) == ["someone-elses"]

    wait_task(hot.CreateSnapshot_Task(name="coriolis-crashed", memory=False, quiesce=False))
    exporter.cleanup(ctx)
    exporter.cleanup(ctx)  # safe to repeat
    assert snapshot_names(si, HOT_VM) == ["someone-elses"]
    assert not ctx.staging_dir.exists() or list(ctx.staging_dir.iterdir()) == []
    other = next(t.snapshot for t in hot.snapshot.rootSnapshotList if t.name == "someone-elses")
    other.RemoveSnapshot_Task(removeChildren=False)


def test_cold_export_powers_off_and_takes_no_snapshot(si, vcsim, test_disks, source_raw, tmp_path):
    exporter = make_exporter(vcsim.connection_info, {"power_off": True})
    ctx = MigrationContext(migration_id="cold", instance=COLD_VM, staging_dir=tmp_path / "staging")
    vm, disk = disk_of(exporter, COLD_VM, test_disks["keys"]["cold"])
    assert vm.power_state == "poweredOn"
    reporter = NullReporter()
    ref = exporter.export_disk(vm, disk, ctx, reporter)
    assert conversion.compare(ref.path, ref.format, source_raw, "raw", same_size=True)
    assert find_vm(si, COLD_VM).runtime.powerState == "poweredOff"
    assert snapshot_names(si, COLD_VM) == []
    assert any("powering off" in m for _, m in reporter.events)


def test_a_template_exports_like_a_vm_from_its_base_disk(si, vcsim, test_disks, source_raw, tmp_path):
    exporter = make_exporter(vcsim.connection_info, {})
    ctx = MigrationContext(migration_id="tmpl", instance=TEMPLATE_VM, staging_dir=tmp_path / "staging")
    vm, disk = disk_of(exporter, TEMPLATE_VM, test_disks["keys"]["template"])
    assert vm.is_template
    reporter = NullReporter()
    ref = exporter.export_disk(vm, disk, ctx, reporter)
    assert ref.format == "raw" and conversion.compare(ref.path, "raw", source_raw, "raw", same_size=True)
    messages = [m for _, m in reporter.events]
    assert any("is a template" in m for m in messages) and not any("taken" in m for m in messages)
    # vcsim has no ExportVm: the default transport (auto) fell back to the datastore, saying so
    assert any("ExportVm is not offered" in m and "datastore instead" in m for m in messages), messages
    assert snapshot_names(si, TEMPLATE_VM) == [] and find_vm(si, TEMPLATE_VM).config.template
    exporter.cleanup(ctx)
    assert list(ctx.staging_dir.iterdir()) == []


def test_nfc_transport_on_a_server_without_leases_fails_clearly_and_leaves_nothing(
        si, vcsim, test_disks, tmp_path):
    exporter = make_exporter(vcsim.connection_info, {"disk_transport": "nfc"})
    ctx = MigrationContext(migration_id="nfc", instance=HOT_VM, staging_dir=tmp_path / "staging")
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    with pytest.raises(ProviderError, match="disk_transport is nfc, but ExportSnapshot is not offered"):
        exporter.export_disk(vm, disk, ctx, NullReporter())
    assert snapshot_names(si, HOT_VM) == []
    assert leftovers(ctx.staging_dir) == []


def test_datastore_transport_never_asks_for_a_lease(si, vcsim, test_disks, source_raw, tmp_path):
    exporter = make_exporter(vcsim.connection_info, {"disk_transport": "datastore"})
    ctx = MigrationContext(migration_id="ds", instance=HOT_VM, staging_dir=tmp_path / "staging")
    vm, disk = disk_of(exporter, HOT_VM, test_disks["keys"]["flat"])
    reporter = NullReporter()
    ref = exporter.export_disk(vm, disk, ctx, reporter)
    assert conversion.compare(ref.path, ref.format, source_raw, "raw", same_size=True)
    assert not any("not offered" in m for _, m in reporter.events)


def test_disk_transport_is_validated():
    info = {"host": "127.0.0.1", "username": "u", "password": "p"}
    with pytest.raises(ProviderError, match="disk_transport"):
        make_exporter(info, {"disk_transport": "vddk"}).list_instances()


@pytest.mark.slow
def test_the_real_guest_disk_exports_byte_identical(si, vcsim, test_disks, tmp_path):
    """The fixture guest's 2 GiB disk, as a flat VMDK in the datastore, exported hot from a running VM."""
    from tests.fixtures.guest import ensure_guest
    from tests.providers.vsphere.conftest import DISK_FOLDER, attach_disk

    guest = ensure_guest()
    size = guest.raw.stat().st_size
    folder = vcsim.datastore_dir / DISK_FOLDER
    # The extent is a symlink to the pristine cached raw: vcsim only reads it (no delta disks on snapshot).
    (folder / "guest-flat.vmdk").symlink_to(guest.raw)
    (folder / "guest.vmdk").write_text(
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\n\n'
        f'RW {size // 512} VMFS "guest-flat.vmdk"\n\nddb.adapterType = "lsilogic"\n'
    )
    name = "DC0_C0_RP0_VM1"
    key = attach_disk(si, find_vm(si, name), f"[LocalDS_0] {DISK_FOLDER}/guest.vmdk", size, 1)
    exporter = make_exporter(vcsim.connection_info, {"chunk_size_mb": 64})
    ctx = MigrationContext(migration_id="guest", instance=name, staging_dir=tmp_path / "staging")
    vm = exporter.get_instance(name)
    ref = exporter.export_disk(vm, vm.disk(str(key)), ctx, NullReporter())
    assert ref.format == "raw" and ref.size_bytes == size
    assert Path(ref.path).stat().st_blocks * 512 < size // 2, "zero blocks are not written to staging"
    assert conversion.compare(ref.path, "raw", guest.raw, "raw", same_size=True)
    assert snapshot_names(si, name) == []
    exporter.cleanup(ctx)
    assert list(ctx.staging_dir.iterdir()) == []


def test_disks_exported_side_by_side_share_one_snapshot(si, exporter, test_disks, source_raw, ctx):
    """Two tasks of one migration read two disks of a running VM at once: one snapshot, frozen once,
    never nested, removed by the last reader."""
    from concurrent.futures import ThreadPoolExecutor

    vm = exporter.get_instance(HOT_VM)
    disks = [vm.disk(str(test_disks["keys"][kind])) for kind in ("flat", "sparse")]
    reporters = [WatchingReporter(si), WatchingReporter(si)]
    with ThreadPoolExecutor(2) as pool:
        refs = list(pool.map(lambda pair: exporter.export_disk(vm, pair[0], ctx, pair[1]),
                             zip(disks, reporters, strict=True)))
    for ref in refs:
        assert conversion.compare(ref.path, ref.format, source_raw, "raw", same_size=True)
    seen = [names for reporter in reporters for names in reporter.seen]
    assert seen and all(names == ["coriolis-m1"] for names in seen), "one shared snapshot while reading"
    assert snapshot_names(si, HOT_VM) == []
