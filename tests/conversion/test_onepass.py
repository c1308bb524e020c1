"""Tests for conversion.onepass: the destination's content digest equals the source's, or the copy fails."""

from __future__ import annotations

import hashlib
import tarfile
import threading
from pathlib import Path

import pytest

from conversion import ConversionError, Member, checksum, convert, nbdstream
from conversion.onepass import ContentMismatch, copy_verified

MIB = 1 << 20


def _flip(path: Path, at: int) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x01]))


def test_a_verified_copy_gives_the_sources_digest(small_raw: Path, tmp_path: Path) -> None:
    stats, written = copy_verified(small_raw, "raw", tmp_path / "out.qcow2", "qcow2")

    assert stats.digest == written == checksum(small_raw, "raw") == checksum(tmp_path / "out.qcow2", "qcow2")


def test_a_source_changed_since_its_first_read_fails(small_raw: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.raw"
    source.write_bytes(small_raw.read_bytes())
    first = checksum(source, "raw")
    _flip(source, 5 * MIB + 4096 + 123)  # one bit of one byte, inside the data
    out = tmp_path / "out.qcow2"

    with pytest.raises(ContentMismatch, match="the source changed since it was first read"):
        copy_verified(source, "raw", out, "qcow2", expected=first)
    assert not out.exists()


def test_a_byte_corrupted_on_the_way_to_the_destination_fails(
    small_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer stores one wrong bit: the read-back through the destination's own driver sees it."""
    real_write = nbdstream._write
    corrupted: list[int] = []

    def write_one_bad_bit(handle: object, data: memoryview, offset: int) -> None:
        if not corrupted:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
            corrupted.append(offset)
        real_write(handle, memoryview(bytes(data)), offset)

    monkeypatch.setattr(nbdstream, "_write", write_one_bad_bit)
    out = tmp_path / "out.vmdk"

    with pytest.raises(ContentMismatch, match="the converted content differs from the source"):
        copy_verified(small_raw, "raw", out, "vmdk")
    assert corrupted and not out.exists()


def _ova_with(vmdk: Path, path: Path) -> Member:
    """A tar holding a small descriptor and ``vmdk``, as an OVA lays them out; the VMDK's byte range."""
    descriptor = path.with_suffix(".ovf")
    descriptor.write_text("<Envelope/>\n")
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(descriptor, "vm.ovf")
        tar.add(vmdk, "disk1.vmdk")
    with tarfile.open(path) as tar:
        member = tar.getmember("disk1.vmdk")
    return Member(member.offset_data, member.size)


def test_an_ova_member_is_converted_in_place(small_raw: Path, tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    convert(small_raw, "raw", vmdk, "vmdk", vmdk_subformat="streamOptimized")
    ova = tmp_path / "vm.ova"
    member = _ova_with(vmdk, ova)
    vmdk.unlink()

    stats, written = copy_verified(ova, "vmdk", tmp_path / "out.qcow2", "qcow2", member=member)

    assert stats.digest == written == checksum(small_raw, "raw")
    # qemu's vmdk driver reads two clusters for each compressed grain (in case a grain's marker and data
    # pass one cluster): twice the data's bytes, plus its tables and start-up, and never the holes
    assert stats.file_bytes_read is not None
    assert member.length <= stats.file_bytes_read <= 2 * stats.bytes_read + 2 * MIB


def test_a_corrupted_byte_in_an_ova_member_fails(small_raw: Path, tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    convert(small_raw, "raw", vmdk, "vmdk", vmdk_subformat="streamOptimized")
    ova = tmp_path / "vm.ova"
    member = _ova_with(vmdk, ova)
    expected = checksum(small_raw, "raw")
    _flip(ova, member.offset + member.length // 2)  # inside a compressed grain
    out = tmp_path / "out.qcow2"

    with pytest.raises(ConversionError):  # a grain that no longer inflates, or other content
        copy_verified(ova, "vmdk", out, "qcow2", member=member, expected=expected)
    assert not out.exists()


def test_a_member_range_past_the_vmdk_is_not_its_own_bytes(small_raw: Path, tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    convert(small_raw, "raw", vmdk, "vmdk", vmdk_subformat="streamOptimized")
    ova = tmp_path / "vm.ova"
    member = _ova_with(vmdk, ova)
    shifted = Member(member.offset - 512, member.length)  # starts on the tar header: no VMDK there

    with pytest.raises(ConversionError):
        copy_verified(ova, "vmdk", tmp_path / "out.qcow2", "qcow2", member=shifted)
    assert not (tmp_path / "out.qcow2").exists()


def test_an_ova_members_manifest_digest_is_checked_while_it_is_read(small_raw: Path, tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    convert(small_raw, "raw", vmdk, "vmdk", vmdk_subformat="streamOptimized")
    digest = hashlib.sha256(vmdk.read_bytes()).hexdigest()
    ova = tmp_path / "vm.ova"
    member = _ova_with(vmdk, ova)
    plain, _ = copy_verified(ova, "vmdk", tmp_path / "plain.qcow2", "qcow2", member=member)

    stats, written = copy_verified(ova, "vmdk", tmp_path / "out.qcow2", "qcow2", member=member,
                                   member_digest=f"sha256:{digest}")

    assert stats.digest == written == checksum(small_raw, "raw")
    # the member's bytes once more, on the digest's thread: counted with what qemu-nbd read
    assert stats.file_bytes_read - plain.file_bytes_read == pytest.approx(member.length, abs=64 * 1024)
    out = tmp_path / "bad.qcow2"
    with pytest.raises(ContentMismatch, match="does not match its manifest sha256 digest"):
        copy_verified(ova, "vmdk", out, "qcow2", member=member, member_digest=f"sha256:{'0' * 64}")
    assert not out.exists()


def test_a_failed_copy_stops_the_member_digest(small_raw: Path, tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    convert(small_raw, "raw", vmdk, "vmdk", vmdk_subformat="streamOptimized")
    ova = tmp_path / "vm.ova"
    member = _ova_with(vmdk, ova)
    out = tmp_path / "out.qcow2"

    def cancel(done: int, total: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        copy_verified(ova, "vmdk", out, "qcow2", member=member, member_digest=f"sha256:{'0' * 64}", progress=cancel)
    assert not out.exists()
    assert not [t for t in threading.enumerate() if t.name == "member-digest"]
