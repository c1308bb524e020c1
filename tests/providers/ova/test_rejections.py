"""Tests that the ova exporter refuses hostile or inconsistent archives with a clear ProviderError."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

import conversion
from conversion import nbdstream
from conversion.onepass import ContentMismatch, copy_verified
from providers.ova import make_exporter
from providers.types import MigrationContext, NullReporter, ProviderError
from tests.providers.ova.appliance import (
    CAPACITY,
    Disk,
    Spec,
    add_bytes,
    exporter,
    make_vmdk,
    ovf_xml,
    simple_ova,
    write_ova,
)


def one_disk_spec(vmdk: Path, **disk_args: object) -> Spec:
    args = {"disk_id": "vmdisk1", "href": "disk1.vmdk", "capacity": CAPACITY,
            "file_size": vmdk.stat().st_size}
    args.update(disk_args)
    return Spec(disks=[Disk(**args)])  # type: ignore[arg-type]


def assert_refused(root: Path, match: str, ctx: MigrationContext | None = None) -> None:
    exp = exporter(root)
    with pytest.raises(ProviderError, match=match):
        vm = exp.get_instance("bad.ova")
        assert ctx is not None, "get_instance should have refused it"
        exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    if ctx is not None and ctx.staging_dir.exists():
        assert [p.name for p in ctx.staging_dir.iterdir()] in ([], [".ova-created"])


def tar_with(path: Path, ovf: str, *members: tarfile.TarInfo) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        add_bytes(tar, "bad.ovf", ovf.encode())
        for m in members:
            tar.addfile(m, io.BytesIO(b"x" * m.size) if m.isreg() else None)


@pytest.mark.parametrize(
    ("name", "kind", "match"),
    [
        ("../disk1.vmdk", tarfile.REGTYPE, "not a plain file name"),
        ("/etc/disk1.vmdk", tarfile.REGTYPE, "not a plain file name"),
        ("sub/disk1.vmdk", tarfile.REGTYPE, "not a plain file name"),
        ("disk1.vmdk", tarfile.SYMTYPE, "is a link"),
        ("disk1.vmdk", tarfile.LNKTYPE, "is a link"),
        ("disk1.vmdk", tarfile.DIRTYPE, "not a regular file"),
        ("disk1.vmdk", tarfile.CHRTYPE, "not a regular file"),
    ],
)
def test_unsafe_members_are_refused(
    tmp_path: Path, stream_vmdk: Path, name: str, kind: bytes, match: str
) -> None:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = 10 if kind == tarfile.REGTYPE else 0
    member.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    tar_with(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), member)
    assert_refused(tmp_path, match)


def test_missing_disk_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {})
    assert_refused(tmp_path, "references 'disk1.vmdk', which is not in the archive")


def test_extra_disk_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    members = {"disk1.vmdk": stream_vmdk, "hidden.vmdk": stream_vmdk}
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), members)
    assert_refused(tmp_path, "'hidden.vmdk' is not referenced")


def test_member_size_that_lies_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    spec = one_disk_spec(stream_vmdk, file_size=stream_vmdk.stat().st_size + 512)
    write_ova(tmp_path / "bad.ova", ovf_xml(spec), {"disk1.vmdk": stream_vmdk})
    assert_refused(tmp_path, "but the OVF says")


def test_capacity_that_lies_is_refused(tmp_path: Path, stream_vmdk: Path, ctx: MigrationContext) -> None:
    spec = one_disk_spec(stream_vmdk, capacity=CAPACITY * 2)
    write_ova(tmp_path / "bad.ova", ovf_xml(spec), {"disk1.vmdk": stream_vmdk})
    assert_refused(tmp_path, "virtual size 8388608 bytes but the VM says 16777216", ctx)


def test_xml_bomb_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    prolog = '<!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk), prolog), {"disk1.vmdk": stream_vmdk})
    assert_refused(tmp_path, "forbidden XML")


def test_external_entity_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    prolog = '<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    ovf = ovf_xml(one_disk_spec(stream_vmdk), prolog).replace("<Name>web01</Name>", "<Name>&x;</Name>")
    write_ova(tmp_path / "bad.ova", ovf, {"disk1.vmdk": stream_vmdk})
    assert_refused(tmp_path, "forbidden XML")


def test_member_that_is_not_a_vmdk_is_refused(tmp_path: Path, ctx: MigrationContext) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(100_000))
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(junk)), {"disk1.vmdk": junk})
    assert_refused(tmp_path, "is not a VMDK", ctx)


def test_qcow2_claiming_to_be_vmdk_is_refused(
    tmp_path: Path, source_raw: Path, ctx: MigrationContext
) -> None:
    qcow2 = tmp_path / "disk.qcow2"
    conversion.convert(source_raw, "raw", qcow2, "qcow2")
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(qcow2)), {"disk1.vmdk": qcow2})
    assert_refused(tmp_path, "is not a VMDK", ctx)


def test_vmdk_descriptor_pointing_at_host_files_is_refused(tmp_path: Path, ctx: MigrationContext) -> None:
    descriptor = tmp_path / "desc.vmdk"
    descriptor.write_bytes(
        b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'
        b'RW 16 FLAT "/etc/passwd" 0\n'
    )
    spec = one_disk_spec(descriptor, capacity=16 * 512)
    write_ova(tmp_path / "bad.ova", ovf_xml(spec), {"disk1.vmdk": descriptor})
    assert_refused(tmp_path, "is not a VMDK", ctx)


def test_monolithic_sparse_member_is_accepted(
    tmp_path: Path, source_raw: Path, ctx: MigrationContext
) -> None:
    sparse = make_vmdk(source_raw, tmp_path / "sparse.vmdk", "monolithicSparse")
    simple_ova(tmp_path / "ok.ova", sparse, CAPACITY)
    exp = exporter(tmp_path)
    vm = exp.get_instance("ok.ova")
    ref = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    member = conversion.Member(ref.member_offset, ref.member_length)
    assert nbdstream.digest(ref.path, "vmdk", member=member).digest == conversion.checksum(source_raw, "raw")


def test_truncated_archive_is_refused(tmp_path: Path, stream_vmdk: Path) -> None:
    ova = write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {"disk1.vmdk": stream_vmdk},
                    manifest=False)
    with open(ova, "r+b") as f:
        f.truncate(ova.stat().st_size - 1024 - 10240 - 300_000)  # end blocks, padding and some data
    assert_refused(tmp_path, "bad.ova: the archive is truncated or corrupt")


def test_manifest_mismatch_is_refused(tmp_path: Path, stream_vmdk: Path, ctx: MigrationContext) -> None:
    """The member is hashed while the conversion reads it: the mismatch fails the conversion."""
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {"disk1.vmdk": stream_vmdk},
              digest_override={"disk1.vmdk": "0" * 64})
    exp = exporter(tmp_path)
    vm = exp.get_instance("bad.ova")
    ref = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert ref.member_digest == "sha256:" + "0" * 64
    out = tmp_path / "out.qcow2"
    with pytest.raises(ContentMismatch, match="does not match its manifest sha256 digest"):
        copy_verified(ref.path, "vmdk", out, "qcow2", member=conversion.Member(ref.member_offset, ref.member_length),
                      member_digest=ref.member_digest)
    assert not out.exists()


def test_manifest_check_can_be_turned_off(tmp_path: Path, stream_vmdk: Path, ctx: MigrationContext) -> None:
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {"disk1.vmdk": stream_vmdk},
              digest_override={"disk1.vmdk": "0" * 64, "bad.ovf": "1" * 64})
    lax = make_exporter({"path": str(tmp_path)}, {"verify_manifest": False})
    vm = lax.get_instance("bad.ova")
    ref = lax.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert (ref.size_bytes, ref.member_digest) == (CAPACITY, None)


def test_tampered_ovf_fails_its_manifest(tmp_path: Path, stream_vmdk: Path) -> None:
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {"disk1.vmdk": stream_vmdk},
              digest_override={"bad.ovf": "1" * 64})
    assert_refused(tmp_path, "bad.ovf does not match its manifest")


def test_manifest_can_be_required(tmp_path: Path, stream_vmdk: Path) -> None:
    write_ova(tmp_path / "bad.ova", ovf_xml(one_disk_spec(stream_vmdk)), {"disk1.vmdk": stream_vmdk},
              manifest=False)
    exporter(tmp_path).get_instance("bad.ova")
    strict = make_exporter({"path": str(tmp_path)}, {"require_manifest": True})
    with pytest.raises(ProviderError, match="no manifest"):
        strict.get_instance("bad.ova")
