"""Boot checks under TCG: a busybox guest on the host kernel, and the real guest fixture when present."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from providers.kvm.console import ConsoleWatcher, run_boot
from providers.kvm.destination import KvmImporter
from providers.types import Cancelled, DiskRef, MigrationContext, NullReporter, VmInfo
from tests.providers.kvm.bootkit import GUEST_WRITE, MARKER, BootKit
from tests.providers.kvm.conftest import MIB, write_image

HEAD = b"HELLO-FROM-DISK0"


def qemu_running(name: str) -> bool:
    found = subprocess.run(["pgrep", "-f", f"-name {name} "], capture_output=True, check=False)
    return found.returncode == 0


def import_and_define(kvm: KvmImporter, vm: VmInfo, ctx: MigrationContext) -> tuple:
    staged = write_image(ctx.staging_dir / "boot.raw", 32 * MIB, HEAD)
    ref = kvm.import_disk(vm, DiskRef("disk-2000", str(staged), "raw", 32 * MIB), ctx, NullReporter())
    return ref, kvm.create_instance(vm, [ref], ctx, NullReporter())


def assert_stopped_and_clean(kvm: KvmImporter, ctx: MigrationContext, name: str) -> None:
    assert not qemu_running(name)
    assert not (kvm.instance_dir(ctx) / "qemu.pid").exists()
    assert list(ctx.staging_dir.glob("*-boot-*")) == []


def test_watcher_finds_marker_without_newline_and_failures(tmp_path: Path) -> None:
    import re

    log = tmp_path / "console.log"
    log.write_bytes(b"SeaBIOS\r\n\x1b[2J")
    watcher = ConsoleWatcher(log, re.compile(r"login:|FIXTURE-BOOT-OK"))
    assert watcher.poll() is None
    with open(log, "ab") as out:
        out.write(b"\n\ndebian login: ")
    assert watcher.poll() == ("marker", "debian login:")
    log.write_bytes(b"[ 3.1] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n")
    assert ConsoleWatcher(log, re.compile("never")).poll() == (
        "failure", "[ 3.1] Kernel panic - not syncing: VFS: Unable to mount root fs")


@pytest.mark.parametrize(
    ("console", "line"),
    [
        (
            b"[  OK  ] Reached target emergency.target\r\nYou are in emergency mode. After logging in, type ...\r\n",
            "You are in emergency mode. After logging in, type ...",
        ),
        (
            b"Cannot open access to console, the root account is locked.\r\nGive root password for maintenance\r\n"
            b"(or press Control-D to continue): ",
            "Give root password for maintenance",
        ),
        (
            b"[  185.2] dracut-initqueue[312]: Warning: dracut-initqueue timeout - starting timeout scripts\r\n",
            "[  185.2] dracut-initqueue[312]: Warning: dracut-initqueue timeout - starting timeout scripts",
        ),
        (b"Generating \"/run/initramfs/rdsosreport.txt\"\r\nEntering emergency mode. Exit the shell to continue.\r\n",
         "Entering emergency mode. Exit the shell to continue."),
        (b"Give root password for maintenance", "Give root password for maintenance"),  # no newline yet
    ],
)
def test_emergency_shells_are_failures(tmp_path: Path, console: bytes, line: str) -> None:
    import re

    log = tmp_path / "console.log"
    log.write_bytes(console)
    assert ConsoleWatcher(log, re.compile("FIXTURE-BOOT-OK")).poll() == ("failure", line)


def test_run_boot_reports_a_process_that_exits(tmp_path: Path) -> None:
    result = run_boot(["false"], tmp_path / "c.log", tmp_path / "pid", "x", 10, NullReporter())
    assert not result.booted and "exited with code 1" in result.message
    assert not (tmp_path / "pid").exists()


@pytest.mark.slow
def test_boot_sees_marker_on_overlay(importer, vm, ctx, bootkit: BootKit) -> None:
    kvm = importer(disk_format="raw", kernel=str(bootkit.kernel), initrd=str(bootkit.initrd),
                   append=bootkit.append, boot_timeout=90, boot_marker=None)
    ref, instance = import_and_define(kvm, vm, ctx)
    reporter = NullReporter()
    result = kvm.boot(instance, ctx, reporter)
    assert result.booted, result.console_tail
    # the firmware may print on the same console line before the kernel: the marker is in it, not first
    assert MARKER in result.message and 0 < result.seconds < 90
    assert "disks=[vda ]" in result.message and f"head0=[{HEAD.decode()}]" in result.message
    assert "macs=[00:50:56:ab:cd:01 00:50:56:ab:cd:02 ]" in result.message  # source MACs kept
    assert MARKER in result.console_tail and len(result.console_tail) <= 2048
    assert reporter.steps and reporter.steps[0] == (0, 90, "waiting for boot marker")
    with open(ref.path, "rb") as disk:  # the guest wrote to its overlay, not to the imported disk
        assert disk.read(16) == HEAD and GUEST_WRITE not in disk.read(4096)
    assert_stopped_and_clean(kvm, ctx, instance.name)


@pytest.mark.slow
def test_boot_detects_kernel_panic(importer, vm, ctx, bootkit: BootKit) -> None:
    kvm = importer(kernel=str(bootkit.kernel), append="console=ttyS0 root=/dev/vda", boot_timeout=90)
    _, instance = import_and_define(kvm, vm, ctx)
    result = kvm.boot(instance, ctx, NullReporter())
    assert not result.booted and "Kernel panic" in result.message, result.console_tail
    assert "Kernel panic" in result.console_tail
    assert_stopped_and_clean(kvm, ctx, instance.name)


@pytest.mark.slow
def test_boot_times_out(importer, vm, ctx, bootkit: BootKit) -> None:
    kvm = importer(kernel=str(bootkit.kernel), initrd=str(bootkit.initrd), append=bootkit.append,
                   boot_timeout=3, boot_marker="NEVER-PRINTED")
    _, instance = import_and_define(kvm, vm, ctx)
    result = kvm.boot(instance, ctx, NullReporter())
    assert not result.booted and "timed out after 3 s" in result.message
    assert 3 <= result.seconds < 10
    assert_stopped_and_clean(kvm, ctx, instance.name)


class CancelAfter(NullReporter):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.remaining = steps

    def step(self, done: int, total: int | None, message: str = "") -> None:
        self.remaining -= 1
        self.cancelled = self.remaining < 0
        super().step(done, total, message)


@pytest.mark.slow
def test_boot_cancel_stops_qemu(importer, vm, ctx, bootkit: BootKit) -> None:
    kvm = importer(kernel=str(bootkit.kernel), initrd=str(bootkit.initrd), append=bootkit.append,
                   boot_marker="NEVER-PRINTED")
    _, instance = import_and_define(kvm, vm, ctx)
    start = time.monotonic()
    with pytest.raises(Cancelled):
        kvm.boot(instance, ctx, CancelAfter(2))
    assert time.monotonic() - start < 15
    assert_stopped_and_clean(kvm, ctx, instance.name)
    kvm.cleanup(ctx)
    assert not kvm.instance_dir(ctx).exists()


@pytest.mark.slow
def test_unmorphed_real_guest_fails_on_virtio(importer, ctx, tmp_path) -> None:
    from tests.fixtures import guest

    built = guest.ensure_guest()
    pristine = Path(built.raw)
    before = pristine.stat()
    staged = guest.make_copy(built, ctx.staging_dir)
    size = staged.stat().st_size
    kvm = importer(disk_format="raw", boot_timeout=90)
    vm = VmInfo(id="g", name="guest", num_cpu=2, memory_mb=1024)
    ref = kvm.import_disk(vm, DiskRef("disk0", str(staged), "raw", size), ctx, NullReporter())
    instance = kvm.create_instance(vm, [ref], ctx, NullReporter())
    result = kvm.boot(instance, ctx, NullReporter())
    assert not result.booted, result.console_tail
    assert "Gave up waiting for root" in result.message, result.console_tail
    assert_stopped_and_clean(kvm, ctx, instance.name)
    after = pristine.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
