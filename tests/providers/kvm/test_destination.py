"""Tests of the kvm importer: disk import (move, copy, convert, idempotency, cancel), definitions, cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from providers.kvm import disks as images
from providers.kvm.destination import PIDFILE, safe_name
from providers.types import Cancelled, DiskRef, Firmware, NicInfo, NullReporter, ProviderError
from tests.providers.kvm.conftest import MIB, write_image


def qemu_img(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_move_on_same_filesystem(importer, vm, ctx) -> None:
    src = write_image(ctx.staging_dir / "disk.qcow2.src", 32 * MIB)
    staged = ctx.staging_dir / "disk.qcow2"
    assert qemu_img("convert", "-f", "raw", "-O", "qcow2", str(src), str(staged)).returncode == 0
    inode = staged.stat().st_ino
    kvm = importer()
    ref = kvm.import_disk(vm, DiskRef("disk-2000", str(staged), "qcow2", 32 * MIB), ctx, NullReporter())
    assert ref == DiskRef("disk-2000", str(kvm.instance_dir(ctx) / "disk-2000.qcow2"), "qcow2", 32 * MIB)
    assert kvm.instance_dir(ctx).name == "coriolis-mig1-web-01"
    assert not staged.exists() and Path(ref.path).stat().st_ino == inode


def test_copy_keeps_sparseness_and_content(importer, vm, ctx, monkeypatch) -> None:
    monkeypatch.setattr(images, "same_filesystem", lambda *_: False)
    offsets = (0, 20 * MIB, 64 * MIB - 4096)
    staged = write_image(ctx.staging_dir / "d.raw", 64 * MIB, b"DATA" * 1024, at=offsets)
    reporter = NullReporter()
    ref = importer(disk_format="raw").import_disk(
        vm, DiskRef("disk-2000", str(staged), "raw", 64 * MIB, checksum="sha256:x"), ctx, reporter
    )
    dest = Path(ref.path)
    assert staged.exists() and dest.read_bytes() == staged.read_bytes()
    assert dest.stat().st_blocks * 512 < 2 * MIB  # holes stayed holes
    assert ref.size_bytes == 64 * MIB and ref.checksum == "sha256:x" and ref.format == "raw"
    assert reporter.steps and reporter.steps[-1][:2] == (3 * 4096, 64 * MIB)


def test_copy_across_filesystems(importer, vm, ctx, tmp_path) -> None:
    import tempfile

    assert os.stat("/dev/shm").st_dev != os.stat(ctx.staging_dir.parent).st_dev, "needs /dev/shm as a second fs"

    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        staged = write_image(Path(shm) / "d.raw", 8 * MIB, b"X" * 4096)
        ref = importer(disk_format="raw").import_disk(vm, DiskRef("d", str(staged), "raw", 8 * MIB), ctx,
                                                     NullReporter())
        assert staged.exists() and Path(ref.path).read_bytes() == staged.read_bytes()


@pytest.mark.parametrize(("src_fmt", "want"), [("raw", "qcow2"), ("qcow2", "raw")])
def test_convert_when_formats_differ(importer, vm, ctx, src_fmt, want) -> None:
    raw = write_image(ctx.staging_dir / "orig.raw", 16 * MIB, b"HELLO", at=(0, 5 * MIB))
    staged = raw
    if src_fmt == "qcow2":
        staged = ctx.staging_dir / "orig.qcow2"
        qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(staged))
    ref = importer(disk_format=want).import_disk(vm, DiskRef("disk-1", str(staged), src_fmt, 16 * MIB),
                                                 ctx, NullReporter())
    assert ref.format == want and ref.path.endswith(f"disk-1.{want}") and ref.size_bytes == 16 * MIB
    assert images.image_info(ref.path, want)["format"] == want
    assert qemu_img("compare", "-f", "raw", "-F", want, str(raw), ref.path).returncode == 0
    assert staged.exists()  # a conversion never consumes its source


def test_qcow2_with_backing_file_is_flattened(importer, vm, ctx) -> None:
    base = write_image(ctx.staging_dir / "base.raw", 8 * MIB, b"BASE")
    top = ctx.staging_dir / "top.qcow2"
    images.create_overlay(base, "raw", top)
    ref = importer().import_disk(vm, DiskRef("d", str(top), "qcow2", 8 * MIB), ctx, NullReporter())
    assert "backing-filename" not in images.image_info(ref.path, "qcow2")
    assert qemu_img("compare", "-f", "raw", "-F", "qcow2", str(base), ref.path).returncode == 0


def test_import_is_idempotent(importer, vm, ctx) -> None:
    staged = write_image(ctx.staging_dir / "d.qcow2", 8 * MIB)
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(staged), str(staged) + ".q")
    os.replace(str(staged) + ".q", staged)
    disk = DiskRef("d", str(staged), "qcow2", 8 * MIB)
    kvm = importer()
    first = kvm.import_disk(vm, disk, ctx, NullReporter())  # moved: the source is gone now
    mtime = Path(first.path).stat().st_mtime_ns
    reporter = NullReporter()
    assert kvm.import_disk(vm, disk, ctx, reporter) == first
    assert Path(first.path).stat().st_mtime_ns == mtime
    assert any("already imported" in message for _, message in reporter.events)


def test_wrong_size_destination_is_replaced(importer, vm, ctx) -> None:
    kvm = importer(disk_format="raw")
    stale = write_image(kvm.instance_dir(ctx) / "d.raw", 4 * MIB, b"OLD")
    staged = write_image(ctx.staging_dir / "d.raw", 8 * MIB, b"NEW")
    ref = kvm.import_disk(vm, DiskRef("d", str(staged), "raw", 8 * MIB), ctx, NullReporter())
    assert ref.path == str(stale) and ref.size_bytes == 8 * MIB and stale.read_bytes()[:3] == b"NEW"


def test_missing_source_is_an_error(importer, vm, ctx) -> None:
    with pytest.raises(ProviderError, match="does not exist"):
        importer().import_disk(vm, DiskRef("d", str(ctx.staging_dir / "nope"), "qcow2", MIB), ctx,
                               NullReporter())


@pytest.mark.parametrize("mode", ["move", "copy", "convert"])
def test_cancel_leaves_no_partial_file(importer, vm, ctx, monkeypatch, mode) -> None:
    if mode == "copy":
        monkeypatch.setattr(images, "same_filesystem", lambda *_: False)
    staged = write_image(ctx.staging_dir / "d.raw", 32 * MIB, b"Z" * MIB, at=(0, 8 * MIB, 16 * MIB))
    before = staged.read_bytes()
    reporter = NullReporter()
    reporter.cancelled = True
    kvm = importer(disk_format="qcow2" if mode == "convert" else "raw")
    with pytest.raises(Cancelled):
        kvm.import_disk(vm, DiskRef("d", str(staged), "raw", 32 * MIB), ctx, reporter)
    assert leftovers(kvm.instance_dir(ctx)) == []
    assert staged.read_bytes() == before


def test_create_instance_writes_domain_and_cmdline(importer, vm, ctx) -> None:
    kvm = importer(memory_mb=2048)
    refs = []
    for disk in vm.disks:
        staged = write_image(ctx.staging_dir / f"{disk.id}.qcow2.raw", disk.size_bytes)
        refs.append(kvm.import_disk(vm, DiskRef(disk.id, str(staged), "raw", disk.size_bytes), ctx,
                                    NullReporter()))
    vm = vm.__class__(**{**vm.__dict__, "nics": (*vm.nics, NicInfo("bogus", "x"))})
    reporter = NullReporter()
    instance = kvm.create_instance(vm, refs, ctx, reporter)
    assert instance.id == instance.name == "coriolis-mig1-web-01"
    assert [d.path for d in instance.disks] == [r.path for r in refs]
    root = ET.parse(instance.details["domain_xml"]).getroot()
    assert root.findtext("name") == "coriolis-mig1-web-01"
    assert root.findtext("memory") == "2048" and root.findtext("vcpu") == "2"
    assert [d.find("source").get("file") for d in root.findall("./devices/disk")] == [r.path for r in refs]
    macs = [n.find("mac").get("address") for n in root.findall("./devices/interface")]
    assert macs[:2] == ["00:50:56:ab:cd:01", "00:50:56:ab:cd:02"] and macs[2].startswith("52:54:00:")
    assert any("unusable" in m for kind, m in reporter.events if kind == "WARNING")
    argv = json.loads(Path(instance.details["qemu_cmdline"]).read_text())
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert f"user,model=virtio-net-pci,mac={macs[0]},restrict=on" in argv
    assert f"file={refs[1].path},format=qcow2,if=virtio,index=1" in argv
    again = kvm.create_instance(vm, refs, ctx, NullReporter())
    assert again == instance


def test_create_instance_efi_copies_nvram_template(importer, vm, ctx, tmp_path) -> None:
    code = write_image(tmp_path / "fw" / "CODE.fd", MIB)
    template = write_image(tmp_path / "fw" / "VARS.fd", 128 * 1024, b"VARS")
    kvm = importer({"ovmf_code": str(code), "ovmf_vars": str(template)}, machine="q35")
    disk = write_image(ctx.staging_dir / "d.qcow2", MIB)
    ref = kvm.import_disk(vm, DiskRef("d", str(disk), "raw", MIB), ctx, NullReporter())
    efi_vm = vm.__class__(**{**vm.__dict__, "firmware_type": Firmware.EFI})
    instance = kvm.create_instance(efi_vm, [ref], ctx, NullReporter())
    nvram = kvm.instance_dir(ctx) / "OVMF_VARS.fd"
    assert instance.details["nvram"] == str(nvram) and nvram.read_bytes()[:4] == b"VARS"
    root = ET.parse(instance.details["domain_xml"]).getroot()
    assert root.findtext("./os/loader") == str(code) and root.findtext("./os/nvram") == str(nvram)
    assert nvram.stat().st_mode & 0o777 == 0o600  # the service's own mode, not the template's 0644


def test_copies_are_never_wider_than_their_source(tmp_path) -> None:
    from providers import localpaths

    secret = write_image(tmp_path / "VARS.fd", 4096, b"VARS")
    secret.chmod(0o400)
    localpaths.copy_private(secret, tmp_path / "copy")
    assert (tmp_path / "copy").stat().st_mode & 0o777 == 0o400
    (tmp_path / "link").symlink_to(secret)
    with pytest.raises(OSError):  # a symlink is never followed, as source or as destination
        localpaths.copy_private(tmp_path / "link", tmp_path / "other")
    with pytest.raises(OSError):
        localpaths.copy_private(tmp_path / "copy", tmp_path / "link")
    assert secret.read_bytes()[:4] == b"VARS"


def test_cleanup_removes_everything_and_is_idempotent(importer, vm, ctx) -> None:
    kvm = importer()
    staged = write_image(ctx.staging_dir / "d.raw", 4 * MIB)
    ref = kvm.import_disk(vm, DiskRef("d", str(staged), "raw", 4 * MIB), ctx, NullReporter())
    instance = kvm.create_instance(vm, [ref], ctx, NullReporter())
    overlay = ctx.staging_dir / f"{instance.name}-boot-0.qcow2"
    overlay.write_bytes(b"")
    other = write_image(kvm.storage_dir / "coriolis-mig2-web-01" / "d.qcow2", MIB)
    # A stand-in for a qemu left running by a crashed worker: its argv carries the instance name.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-name", instance.name])
    (kvm.instance_dir(ctx) / PIDFILE).write_text(f"{proc.pid}\n")
    try:
        kvm.cleanup(ctx)
        assert proc.wait(timeout=10) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not kvm.instance_dir(ctx).exists() and not overlay.exists()
    assert other.exists()  # another migration's resources are left alone
    kvm.cleanup(ctx)
    importer().cleanup(ctx)


def test_cleanup_does_not_kill_a_reused_pid(importer, vm, ctx) -> None:
    kvm = importer()
    kvm.instance_dir(ctx).mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (kvm.instance_dir(ctx) / PIDFILE).write_text(f"{proc.pid}\n")
        kvm.cleanup(ctx)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_validate(importer, storage, tmp_path) -> None:
    importer().validate()
    assert storage.is_dir()
    with pytest.raises(ProviderError, match="not found"):
        importer({"qemu_binary": "qemu-system-nonexistent"}).validate()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ProviderError, match="not writable"):
        importer({"storage_dir": str(blocker / "sub")}).validate()
    with pytest.raises(ProviderError, match="kernel"):
        importer(kernel=str(tmp_path / "no-kernel")).validate()


def test_safe_name() -> None:
    assert safe_name("coriolis-m1-web-01") == "coriolis-m1-web-01"
    odd = safe_name("coriolis-m1-web 01/../x")
    assert "/" not in odd and " " not in odd and odd != safe_name("coriolis-m1-web-01-..-x")
