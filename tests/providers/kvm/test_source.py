"""The kvm source: libvirt domain XMLs as instances, disks read in place, changes from qcow2 dirty bitmaps."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from providers.abilities import ChangeTracking, DiskAreaReader
from providers.kvm import PROVIDER, bitmaps
from providers.kvm.source import KvmExporter, make_exporter
from providers.types import Exporter, Firmware, InstanceNotFound, MigrationContext, NullReporter, OsType, ProviderError
from tests.providers.kvm.domains import qemu_io_write, write_domain

MIB = 1 << 20
CHUNK = 64 << 10


@pytest.fixture()
def domains(tmp_path: Path) -> Path:
    folder = tmp_path / "domains"
    write_domain(folder, "web", [("web-root.qcow2", "qcow2", "vda", "virtio", 32 * MIB),
                                 ("web-data.raw", "raw", "sdb", "scsi", 8 * MIB)], efi=True)
    return folder


def _ctx(tmp_path: Path, run: str = "run1", transfer: str = "t1") -> MigrationContext:
    return MigrationContext(run, "web", tmp_path / "staging", transfer)


def test_the_provider_is_a_source_with_change_tracking(domains):
    assert PROVIDER.abilities == ["source", "destination"]
    exporter = PROVIDER.exporter({"domains_dir": str(domains)}, {})  # type: ignore[misc]
    assert isinstance(exporter, Exporter) and isinstance(exporter, ChangeTracking)
    assert isinstance(exporter, DiskAreaReader)
    with pytest.raises(ProviderError, match="domains_dir"):
        make_exporter({"storage_dir": "/x"}, {})


def test_instances_are_read_from_the_domain_xml(domains):
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    [vm] = exporter.list_instances()
    assert (vm.id, vm.name, vm.num_cpu, vm.memory_mb) == ("web", "web", 2, 1024)
    assert vm.firmware_type == Firmware.EFI and vm.os_type == OsType.LINUX
    assert [(d.id, d.format, d.size_bytes, d.controller_id) for d in vm.disks] == [
        ("vda", "qcow2", 32 * MIB, "virtio"), ("sdb", "raw", 8 * MIB, "scsi")]
    assert [(n.mac_address, n.network_name, n.model) for n in vm.nics] == [
        ("52:54:00:aa:bb:01", "default", "virtio"), ("52:54:00:aa:bb:02", "br-lan", "e1000e")]
    assert {c.id for c in vm.controllers} == {"virtio", "scsi"}
    assert exporter.get_instance("web") == vm
    with pytest.raises(InstanceNotFound):
        exporter.get_instance("nope")


def test_disks_outside_the_allowed_directories_are_refused(tmp_path, domains):
    outside = tmp_path / "elsewhere"
    write_domain(outside, "db", [("db.qcow2", "qcow2", "vda", "virtio", MIB)])
    (domains / "db.xml").write_text((outside / "db.xml").read_text())
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    assert [vm.id for vm in exporter.list_instances()] == ["web"]  # db is skipped
    with pytest.raises(ProviderError, match="outside"):
        exporter.get_instance("db")
    allowed = make_exporter({"domains_dir": str(domains), "image_dirs": [str(outside)]}, {})
    assert [vm.id for vm in allowed.list_instances()] == ["db", "web"]


def test_hostile_xml_is_a_provider_error(domains):
    (domains / "bomb.xml").write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><domain>&a;</domain>')
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    with pytest.raises(ProviderError, match="bomb.xml"):
        exporter.get_instance("bomb")


def test_export_uses_the_disk_in_place(tmp_path, domains):
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    vm = exporter.get_instance("web")
    ref = exporter.export_disk(vm, vm.disk("vda"), _ctx(tmp_path), NullReporter())
    assert (Path(ref.path), ref.format) == (domains / "web-root.qcow2", "qcow2")


def test_bitmaps_rotate_and_report_exactly_the_written_extents(tmp_path, domains):
    exporter: KvmExporter = make_exporter({"domains_dir": str(domains)}, {})
    vm = exporter.get_instance("web")
    disk, image = vm.disk("vda"), domains / "web-root.qcow2"
    qemu_io_write(image, "qcow2", [(0, 4 * MIB, 0x11)])
    first = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, "run1"))
    assert first.full and first.change_id.startswith("coriolis.t1.")
    assert [b.name for b in bitmaps.list_bitmaps(image)] == [first.change_id]

    qemu_io_write(image, "qcow2", [(MIB, CHUNK, 0x22), (10 * MIB, 3 * CHUNK, 0x33), (31 * MIB, CHUNK, 0x44)])
    second = exporter.changed_areas(vm, disk, first.change_id, _ctx(tmp_path, "run2"))
    assert not second.full and second.change_id != first.change_id
    assert second.extents == [(MIB, CHUNK), (10 * MIB, 3 * CHUNK), (31 * MIB, CHUNK)]
    # the committed bitmap stays until the next sync names the newer one
    assert {b.name for b in bitmaps.list_bitmaps(image)} == {first.change_id, second.change_id}
    pieces = list(exporter.read_areas(vm, disk, second.extents, _ctx(tmp_path)))
    assert [(o, len(d), set(d)) for o, d in pieces] == [
        (MIB, CHUNK, {0x22}), (10 * MIB, 3 * CHUNK, {0x33}), (31 * MIB, CHUNK, {0x44})]

    third = exporter.changed_areas(vm, disk, second.change_id, _ctx(tmp_path, "run3"))
    assert third.extents == []  # nothing written since the second sync started
    assert {b.name for b in bitmaps.list_bitmaps(image)} == {second.change_id, third.change_id}


def test_a_sync_that_never_committed_loses_no_change(tmp_path, domains):
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    vm = exporter.get_instance("web")
    disk, image = vm.disk("vda"), domains / "web-root.qcow2"
    committed = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, "run1")).change_id
    qemu_io_write(image, "qcow2", [(2 * MIB, CHUNK, 0x55)])
    lost = exporter.changed_areas(vm, disk, committed, _ctx(tmp_path, "run2"))  # this sync crashes: not committed
    qemu_io_write(image, "qcow2", [(5 * MIB, CHUNK, 0x66)])
    retry = exporter.changed_areas(vm, disk, committed, _ctx(tmp_path, "run3"))
    assert retry.extents == [(2 * MIB, CHUNK), (5 * MIB, CHUNK)]
    names = {b.name for b in bitmaps.list_bitmaps(image)}
    assert lost.change_id not in names and names == {committed, retry.change_id}


def test_transfers_of_one_domain_keep_their_own_bitmaps(tmp_path, domains):
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    vm = exporter.get_instance("web")
    disk, image = vm.disk("vda"), domains / "web-root.qcow2"
    one = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, "a", transfer="one")).change_id
    two = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, "b", transfer="two")).change_id
    qemu_io_write(image, "qcow2", [(0, CHUNK, 0x77)])
    again = exporter.changed_areas(vm, disk, one, _ctx(tmp_path, "c", transfer="one"))
    assert again.extents == [(0, CHUNK)]
    assert two in {b.name for b in bitmaps.list_bitmaps(image)}


def test_raw_disks_and_lost_or_inconsistent_bitmaps_fall_back_to_a_full_compare(tmp_path, domains):
    exporter = make_exporter({"domains_dir": str(domains)}, {})
    vm = exporter.get_instance("web")
    raw = exporter.changed_areas(vm, vm.disk("sdb"), None, _ctx(tmp_path))
    assert raw.full and raw.change_id == ""
    disk, image = vm.disk("vda"), domains / "web-root.qcow2"
    first = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, "run1")).change_id
    bitmaps.remove(image, [first])  # someone removed it (or the image was replaced)
    gone = exporter.changed_areas(vm, disk, first, _ctx(tmp_path, "run2"))
    assert gone.full and gone.change_id in {b.name for b in bitmaps.list_bitmaps(image)}
    # a writer killed while the bitmap was enabled leaves it flagged in-use: it cannot be trusted
    proc = subprocess.Popen(["qemu-io", "-f", "qcow2", str(image)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"write -P 9 0 65536\n")
    proc.stdin.flush()
    proc.stdout.read1(4096)  # the write is done once qemu-io answers
    proc.kill()
    proc.wait()
    assert not {b.name: b for b in bitmaps.list_bitmaps(image)}[gone.change_id].consistent
    broken = exporter.changed_areas(vm, disk, gone.change_id, _ctx(tmp_path, "run3"))
    assert broken.full and [b.name for b in bitmaps.list_bitmaps(image)] == [broken.change_id]


def test_without_change_tracking_every_sync_is_full_and_the_image_is_never_written(tmp_path, domains):
    exporter: KvmExporter = make_exporter({"domains_dir": str(domains)}, {"change_tracking": False})
    vm = exporter.get_instance("web")
    disk, image = vm.disk("vda"), domains / "web-root.qcow2"
    before = image.read_bytes()
    for run in ("run1", "run2"):
        areas = exporter.changed_areas(vm, disk, None, _ctx(tmp_path, run))
        assert areas.full and areas.change_id == ""
    assert bitmaps.list_bitmaps(image) == []
    assert image.read_bytes() == before


def test_the_source_environment_is_validated(domains):
    with pytest.raises(ProviderError, match="change_tracking"):
        make_exporter({"domains_dir": str(domains)}, {"change_tracking": "sometimes"})
    with pytest.raises(ProviderError, match="snapshot"):
        make_exporter({"domains_dir": str(domains)}, {"snapshot": True})
    schema = PROVIDER.source_environment_schema()
    assert schema.load({}) == {"change_tracking": True}
