"""Images that try to make qemu-img read host files, or claim a size far beyond their bytes."""

from __future__ import annotations

import struct
import subprocess
import time
from pathlib import Path

import pytest

from conversion import ConversionError, convert, info
from providers.types import MigrationContext, NullReporter, ProviderError
from tests.providers.ova.appliance import CAPACITY, exporter, simple_ova

TIB = 1 << 40


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def test_qcow2_backed_by_a_host_file_is_refused(tmp_path: Path) -> None:
    overlay = tmp_path / "evil.qcow2"
    # -u: do not open the backing file while creating; the image only names it
    qemu_img("create", "-q", "-u", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(overlay), "1M")
    assert info(overlay, "qcow2").backing_file == "/etc/passwd"
    out = tmp_path / "out.raw"
    with pytest.raises(ConversionError, match="backing file"):
        convert(overlay, "qcow2", out, "raw")
    assert not out.exists()


def test_qcow2_with_an_external_data_file_is_refused(tmp_path: Path) -> None:
    """A raw external data file makes the guest disk *be* that file: here a stand-in for a host secret."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0\n")
    image = tmp_path / "evil.qcow2"
    options = f"data_file={tmp_path / 'own.data'},data_file_raw=on"
    qemu_img("create", "-q", "-f", "qcow2", "-o", options, str(image), "1M")
    qemu_img("amend", "-f", "qcow2", "-o", f"data_file={secret}", str(image))
    out = tmp_path / "out.raw"
    with pytest.raises(ConversionError, match="reads data from other files"):
        convert(image, "qcow2", out, "raw")
    assert not out.exists()


def test_vmdk_descriptor_with_a_host_file_extent_is_refused(tmp_path: Path) -> None:
    descriptor = tmp_path / "evil.vmdk"
    descriptor.write_text(
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n'
        'RW 2 FLAT "/etc/passwd" 0\n\nddb.adapterType = "ide"\n'
    )
    with pytest.raises(ConversionError, match="/etc/passwd"):
        convert(descriptor, "vmdk", tmp_path / "out.raw", "raw")
    assert not (tmp_path / "out.raw").exists()


def test_vmdk_whose_grains_claim_a_huge_disk_is_refused_by_the_ova_source(tmp_path: Path) -> None:
    """A stream-optimized VMDK of a few KiB claiming 64 TiB: read in bounded time, refused before any copy."""
    bomb = tmp_path / "bomb.vmdk"
    qemu_img("create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", str(bomb), "1M")
    data = bytearray(bomb.read_bytes())
    assert data[:4] == b"KDMV"
    struct.pack_into("<Q", data, 12, 64 * TIB // 512)  # the sparse header's capacity, in sectors
    bomb.write_bytes(bytes(data))
    assert bomb.stat().st_size < 1 << 20
    started = time.monotonic()
    assert info(bomb, "vmdk").virtual_size == 64 * TIB
    assert time.monotonic() - started < 10
    root = tmp_path / "appliances"
    root.mkdir()
    simple_ova(root / "bomb.ova", bomb, CAPACITY)
    staging = tmp_path / "staging"
    staging.mkdir()
    ctx = MigrationContext(migration_id="m-bomb", instance="bomb.ova", staging_dir=staging)
    exp = exporter(root)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=f"virtual size {64 * TIB} bytes but the VM says {CAPACITY}"):
        vm = exp.get_instance("bomb.ova")
        exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert time.monotonic() - started < 30
    assert sum(f.stat().st_size for f in staging.rglob("*") if f.is_file()) < 1 << 20
