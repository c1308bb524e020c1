"""A tiny bootable test kit: the host's kernel plus a busybox initrd that reports what it sees."""

from __future__ import annotations

import gzip
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

MARKER = "FIXTURE-BOOT-OK"
# Load order matters: dependencies first (modinfo -F depends).
MODULES = (
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
)
GUEST_WRITE = b"GUEST-WROTE-THIS"

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {" ".join(Path(m).stem for m in MODULES)}; do insmod /lib/modules/$m.ko; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/vda ] && break; sleep 0.5; done
head0=$(head -c 16 /dev/vda 2>/dev/null)
printf '{GUEST_WRITE.decode()}' | dd of=/dev/vda conv=notrunc 2>/dev/null; sync
disks=$(ls /sys/block | grep vd | tr '\\n' ' ')
macs=$(cat /sys/class/net/e*/address 2>/dev/null | tr '\\n' ' ')
echo "{MARKER} disks=[$disks] head0=[$head0] macs=[$macs]"
exec sleep 100000
"""


@dataclass(frozen=True)
class BootKit:
    """A kernel and an initrd to boot it with (``append`` for the serial console)."""

    kernel: Path
    initrd: Path
    append: str = "console=ttyS0 quiet"


def find_kernel() -> tuple[Path, Path] | None:
    """The newest host kernel in /boot and its module tree, if both are there."""
    for kernel in sorted(Path("/boot").glob("vmlinuz-*"), reverse=True):
        modules = Path("/lib/modules") / kernel.name.removeprefix("vmlinuz-") / "kernel"
        if all((modules / m).is_file() for m in MODULES):
            return kernel, modules
    return None


def _cpio_entry(out: io.BytesIO, ino: int, name: str, mode: int, data: bytes = b"", rdev=(0, 0)) -> None:
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
    out.write(name.encode() + b"\0")
    out.write(b"\0" * (-out.tell() % 4))
    out.write(data)
    out.write(b"\0" * (-out.tell() % 4))


def build_initrd(dest: Path, busybox: Path, modules: Path) -> None:
    """Write a gzip newc cpio with busybox, the virtio modules, /dev/console and /init."""
    out = io.BytesIO()
    entries: list[tuple[str, int, bytes, tuple[int, int]]] = [
        ("bin", 0o40755, b"", (0, 0)),
        ("dev", 0o40755, b"", (0, 0)),
        ("dev/console", 0o20600, b"", (5, 1)),
        ("lib", 0o40755, b"", (0, 0)),
        ("lib/modules", 0o40755, b"", (0, 0)),
        ("bin/busybox", 0o100755, busybox.read_bytes(), (0, 0)),
        ("init", 0o100755, INIT.encode(), (0, 0)),
    ]
    for module in MODULES:
        data = (modules / module).read_bytes()
        entries.append((f"lib/modules/{Path(module).name}", 0o100644, data, (0, 0)))
    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        _cpio_entry(out, ino, name, mode, data, rdev)
    _cpio_entry(out, len(entries) + 1, "TRAILER!!!", 0)
    dest.write_bytes(gzip.compress(out.getvalue(), compresslevel=1))


def make_bootkit(workdir: Path) -> BootKit | None:
    """A BootKit in ``workdir``, or None without a host kernel (/boot) or busybox-static."""
    found = find_kernel()
    busybox = shutil.which("busybox")
    if not found or not busybox or b"ld-linux" in Path(busybox).read_bytes()[:65536]:
        return None  # a dynamically linked busybox cannot run in the initrd
    kernel, modules = found
    initrd = workdir / "initrd.gz"
    build_initrd(initrd, Path(busybox), modules)
    return BootKit(kernel=kernel, initrd=initrd)
