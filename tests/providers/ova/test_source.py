"""Tests for the ova exporter: listing, instance info, export, progress, cancel, cleanup, VMX folders."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest

import conversion
from conversion import nbdstream
from conversion.onepass import copy_verified
from providers.ova import PROVIDER, make_exporter
from providers.registry import get_provider
from providers.types import (
    Exporter,
    Firmware,
    MigrationContext,
    NullReporter,
    OsType,
    ProviderError,
)
from tests.providers.ova.appliance import (
    CAPACITY,
    MIB,
    Disk,
    Nic,
    Spec,
    exporter,
    make_raw,
    make_vmdk,
    ovf_xml,
    simple_ova,
    write_ova,
    write_vmx_folder,
)


@pytest.fixture
def library(tmp_path: Path, source_raw: Path, stream_vmdk: Path) -> Path:
    """A directory with one OVA, one EFI VMX folder and some unrelated files."""
    root = tmp_path / "library"
    root.mkdir()
    simple_ova(root / "web01.ova", stream_vmdk, CAPACITY)
    write_vmx_folder(root / "db-vm", source_raw)
    (root / "notes.txt").write_text("not a VM\n")
    (root / "empty-dir").mkdir()
    return root


def test_provider_is_registered_with_schemas() -> None:
    assert get_provider("ova") is PROVIDER
    assert PROVIDER.abilities == ["source"]
    assert PROVIDER.connection_schema().load({"path": "/x"}) == {"path": "/x"}
    with pytest.raises(ProviderError, match="invalid ova options"):
        make_exporter({}, {})
    assert isinstance(make_exporter({"path": "/x"}, {}), Exporter)


def test_validate_wants_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not a directory"):
        exporter(tmp_path / "missing").validate()


def test_lists_ovas_and_vmx_folders(library: Path) -> None:
    found = {vm.id: vm for vm in exporter(library).list_instances()}
    assert set(found) == {"web01.ova", "db-vm"}
    assert found["web01.ova"].name == "web01"
    assert found["db-vm"].name == "db-01"


def test_listing_skips_broken_archives(library: Path) -> None:
    (library / "broken.ova").write_bytes(b"not a tar at all" * 100)
    assert {vm.id for vm in exporter(library).list_instances()} == {"web01.ova", "db-vm"}
    with pytest.raises(ProviderError, match="broken.ova"):
        exporter(library).get_instance("broken.ova")


def test_ova_instance_info(library: Path) -> None:
    vm = exporter(library).get_instance("web01")  # by VM name / file stem

    assert vm.id == "web01.ova"
    assert (vm.num_cpu, vm.memory_mb) == (2, 2048)
    assert vm.firmware_type == Firmware.BIOS
    assert vm.os_type == OsType.LINUX
    assert vm.guest_id == "debian11_64Guest"
    [disk] = vm.disks
    assert (disk.id, disk.size_bytes, disk.format, disk.controller_id, disk.unit_number) == (
        "vmdisk1", CAPACITY, "vmdk", "4", 0)
    assert {(c.id, c.type) for c in vm.controllers} == {("4", "pvscsi"), ("5", "ide")}
    [nic] = vm.nics
    assert (nic.mac_address, nic.network_name, nic.model) == ("00:50:56:aa:bb:01", "VM Network", "vmxnet3")
    assert vm.to_dict()["devices"]["disks"][0]["id"] == "vmdisk1"


def test_ova_firmware_and_controllers(tmp_path: Path, stream_vmdk: Path) -> None:
    spec = Spec(name="win", firmware="efi", scsi="lsilogicsas", os_type="windows2019srv_64Guest",
                os_description="Microsoft Windows Server 2019",
                disks=[Disk("d0", "d0.vmdk", CAPACITY, stream_vmdk.stat().st_size)],
                nics=[Nic("00:50:56:00:00:0a", "LAN", "E1000"), Nic("00:50:56:00:00:0b", "DMZ", "E1000e")])
    write_ova(tmp_path / "win.ova", ovf_xml(spec), {"d0.vmdk": stream_vmdk})

    vm = exporter(tmp_path).get_instance("win.ova")

    assert vm.firmware_type == Firmware.EFI
    assert vm.os_type == OsType.WINDOWS
    assert [(n.model, n.network_name) for n in vm.nics] == [("e1000", "LAN"), ("e1000e", "DMZ")]
    assert ("4", "lsilogicsas") in {(c.id, c.type) for c in vm.controllers}


def test_vmx_instance_info(library: Path) -> None:
    vm = exporter(library).get_instance("db-vm")

    assert (vm.name, vm.num_cpu, vm.memory_mb) == ("db-01", 4, 4096)
    assert vm.firmware_type == Firmware.EFI
    assert vm.os_type == OsType.WINDOWS
    assert [(d.id, d.size_bytes, d.controller_id) for d in vm.disks] == [("scsi0-0", CAPACITY, "scsi0")]
    assert {(c.id, c.type) for c in vm.controllers} == {("scsi0", "lsilogicsas"), ("ide1", "ide")}
    [nic] = vm.nics
    assert (nic.mac_address, nic.network_name, nic.model) == ("00:0c:29:12:34:56", "Prod", "e1000e")


def _content(ref) -> str:
    """The content digest of an exported disk, read where the reference says it lies."""
    member = None if ref.member_length is None else conversion.Member(ref.member_offset, ref.member_length)
    return nbdstream.digest(ref.path, ref.format, member=member).digest


def test_export_reads_the_vmdk_in_place_and_reports_progress(
    library: Path, source_raw: Path, stream_vmdk: Path, ctx: MigrationContext
) -> None:
    exp = exporter(library, chunk_size=256 * 1024)
    vm = exp.get_instance("web01.ova")
    reporter = NullReporter()
    before = (library / "web01.ova").read_bytes()

    ref = exp.export_disk(vm, vm.disks[0], ctx, reporter)

    assert ref.path == str(library / "web01.ova")
    assert (ref.disk_id, ref.format, ref.size_bytes) == ("vmdisk1", "vmdk", CAPACITY)
    with tarfile.open(ref.path) as tar:
        member = tar.getmember("disk1.vmdk")
    assert (ref.member_offset, ref.member_length) == (member.offset_data, member.size)
    # the manifest's digest goes with the reference: the conversion checks it while it reads
    assert ref.member_digest == "sha256:" + hashlib.sha256(stream_vmdk.read_bytes()).hexdigest()
    assert _content(ref) == conversion.checksum(source_raw, "raw")
    assert reporter.steps[-1][0] == reporter.steps[-1][1] == member.size
    assert not ctx.staging_dir.exists() or not list(ctx.staging_dir.iterdir())  # nothing copied out
    assert (library / "web01.ova").read_bytes() == before


def test_export_again_gives_the_same_reference(library: Path, ctx: MigrationContext) -> None:
    exp = exporter(library)
    vm = exp.get_instance("web01.ova")
    first = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())

    assert exp.export_disk(vm, vm.disks[0], ctx, NullReporter()) == first


def _flip_byte_in_member(ova: Path, name: str, at: int) -> None:
    with tarfile.open(ova) as tar:
        offset = tar.getmember(name).offset_data
    with open(ova, "r+b") as f:
        f.seek(offset + at)
        byte = f.read(1)
        f.seek(offset + at)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_a_byte_changed_in_the_archive_fails_the_conversion(
    library: Path, ctx: MigrationContext, tmp_path: Path
) -> None:
    exp = exporter(library)
    vm = exp.get_instance("web01.ova")
    _flip_byte_in_member(library / "web01.ova", "disk1.vmdk", 70000)
    ref = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    out = tmp_path / "out.qcow2"

    with pytest.raises(conversion.ConversionError):  # its manifest digest, or a grain that no longer inflates
        copy_verified(ref.path, "vmdk", out, "qcow2", member=conversion.Member(ref.member_offset, ref.member_length),
                      member_digest=ref.member_digest)
    assert not out.exists()


def test_a_member_reading_past_itself_is_refused(tmp_path: Path, stream_vmdk: Path, ctx) -> None:
    """A descriptor-only VMDK in the tar that names another file: not one self-contained sparse extent."""
    lib = tmp_path / "lib"
    lib.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * CAPACITY)
    descriptor = (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
        f'RW {CAPACITY // 512} FLAT "{secret}" 0\n'
    ).encode()
    spec = Spec(disks=[Disk("vmdisk1", "disk1.vmdk", CAPACITY)])
    write_ova(lib / "x.ova", ovf_xml(spec), {"disk1.vmdk": b"KDMV" + descriptor}, manifest=False)
    exp = exporter(lib)
    vm = exp.get_instance("x.ova")
    with pytest.raises(ProviderError, match="disk1.vmdk"):
        exp.export_disk(vm, vm.disks[0], ctx, NullReporter())


def test_cleanup_removes_what_an_earlier_copy_left_and_can_repeat(ctx: MigrationContext, library: Path) -> None:
    ctx.staging_dir.mkdir(parents=True)
    (ctx.staging_dir / "vmdisk1.vmdk").write_bytes(b"an earlier version's copy")
    (ctx.staging_dir / ".ova-created").write_text("vmdisk1.vmdk\nvmdisk1.vmdk.part\n../escape\n")
    other = ctx.staging_dir / "converted.qcow2"
    other.write_bytes(b"someone else's")
    exp = exporter(library)

    exp.cleanup(ctx)
    exp.cleanup(ctx)

    assert [p.name for p in ctx.staging_dir.iterdir()] == ["converted.qcow2"]
    exp.cleanup(MigrationContext("other", "x", ctx.staging_dir / "never-made"))


def test_vmx_disk_is_used_in_place(library: Path, source_raw: Path, ctx: MigrationContext) -> None:
    exp = exporter(library)
    vm = exp.get_instance("db-vm")

    ref = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())

    assert ref.path == str(library / "db-vm" / "vm.vmdk")
    assert conversion.compare(ref.path, "vmdk", source_raw, "raw", same_size=True)
    exp.cleanup(ctx)
    assert os.path.exists(ref.path)


def test_vmx_disk_outside_its_folder_is_refused(tmp_path: Path, source_raw: Path) -> None:
    outside = make_vmdk(source_raw, tmp_path / "outside.vmdk", "monolithicSparse")
    write_vmx_folder(tmp_path / "lib" / "vm", source_raw, disk_name=f"../../{outside.name}")
    with pytest.raises(ProviderError, match="outside the VM folder"):
        exporter(tmp_path / "lib").get_instance("vm")


def test_vmx_descriptor_with_extent_outside_is_refused(tmp_path: Path, source_raw: Path, ctx) -> None:
    lib = tmp_path / "lib"
    write_vmx_folder(lib / "vm", source_raw)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * CAPACITY)
    (lib / "vm" / "vm.vmdk").write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
        f'RW {CAPACITY // 512} FLAT "{secret}" 0\n'
    )
    exp = exporter(lib)
    vm = exp.get_instance("vm")
    with pytest.raises(ProviderError, match="outside its folder"):
        exp.export_disk(vm, vm.disks[0], ctx, NullReporter())


def test_unknown_instance(library: Path) -> None:
    with pytest.raises(ProviderError, match="no OVA or VMX folder 'nope'"):
        exporter(library).get_instance("nope")


@pytest.mark.slow
def test_real_guest_ova(tmp_path: Path) -> None:
    """The Debian fixture OVA (built by tests/fixtures/guest, or taken from its cache)."""
    from tests.fixtures.guest import ensure_guest

    built = ensure_guest()
    exp = exporter(built.ova.parent, chunk_size=8 * MIB)

    vm = exp.get_instance(built.ova.name)

    assert vm.os_type == OsType.LINUX
    assert [n.mac_address for n in vm.nics] == [built.mac.lower()]
    assert vm.nics[0].network_name == built.network_name
    [disk] = vm.disks
    assert disk.size_bytes == built.raw.stat().st_size
    ctx = MigrationContext("guest", vm.id, tmp_path / "staging")
    ref = exp.export_disk(vm, disk, ctx, NullReporter())
    assert ref.path == str(built.ova) and ref.member_length is not None
    assert _content(ref) == conversion.checksum(built.raw, "raw")
    exp.cleanup(ctx)
    assert not ctx.staging_dir.exists() or not list(ctx.staging_dir.iterdir())


def test_make_raw_helper_is_sparse(tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "r.raw", 64 * MIB, MIB)
    assert raw.stat().st_blocks * 512 < 4 * MIB


def test_vmx_declaring_100_tib_fails_fast(tmp_path: Path, source_raw: Path, ctx: MigrationContext) -> None:
    """A 12 KB folder whose descriptor claims 100 TiB is refused before anything is sized by it."""
    lib = tmp_path / "lib"
    write_vmx_folder(lib / "vm", source_raw)
    (lib / "vm" / "vm-flat.vmdk").write_bytes(b"\0" * 4096)
    (lib / "vm" / "vm.vmdk").write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
        f'RW {(100 << 40) // 512} FLAT "vm-flat.vmdk" 0\n'
    )
    exp = exporter(lib)
    assert exp.list_instances() == []
    with pytest.raises(ProviderError, match="more than a VMware disk can hold"):
        exp.get_instance("vm")
