"""The transfer benchmark's source disk (a sparse monolithicFlat VMX folder), its changes, page cache, I/O
counters, space used."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 << 10  # the sync's chunk size: pieces and changes are aligned on it
BUFFER = 64 << 20  # random bytes reused for every piece, at different offsets
VMX_TEMPLATE = """displayName = "{name}"
numvcpus = "1"
memsize = "512"
guestOS = "debian12-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "{name}.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:0a:0b:0c"
"""


KVM_DOMAIN = """<domain type='kvm'>
  <name>{name}</name>
  <memory unit='KiB'>524288</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{path}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:0a:0b:0c'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
"""


@dataclass(frozen=True)
class SourceDisk:
    """A VMX folder's disk: the descriptor qemu reads and the flat extent holding the guest bytes."""

    folder: Path
    descriptor: Path
    flat: Path
    size: int


def make_vmx_folder(library: Path, name: str, size: int) -> SourceDisk:
    """``library/<name>/`` with a .vmx and an empty, sparse monolithicFlat VMDK of ``size`` bytes."""
    folder = library / name
    folder.mkdir(parents=True)
    descriptor = folder / f"{name}.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat",
                    str(descriptor), str(size)], check=True)
    (folder / f"{name}.vmx").write_text(VMX_TEMPLATE.format(name=name))
    flat = folder / f"{name}-flat.vmdk"
    if not flat.exists() or flat.stat().st_size != size:
        raise RuntimeError(f"qemu-img did not create the flat extent {flat} of {size} bytes")
    return SourceDisk(folder, descriptor, flat, size)


def plan_pieces(size: int, data: int, rng: random.Random, smallest: int = CHUNK,
                largest: int = 4 << 20) -> list[tuple[int, int]]:
    """``(offset, length)`` of chunk-aligned pieces of ``smallest..largest`` bytes, ``data`` in all, over the disk.

    The holes between pieces are a random composition of the free chunks, so pieces land anywhere.
    """
    lengths: list[int] = []
    left = data
    while left > 0:
        length = min(left, rng.randrange(smallest // CHUNK, largest // CHUNK + 1) * CHUNK)
        lengths.append(length)
        left -= length
    free = (size - data) // CHUNK
    if free < 0:
        raise ValueError(f"{data} bytes of data do not fit a disk of {size} bytes")
    marks = sorted(rng.sample(range(free + len(lengths)), len(lengths)))
    pieces, cursor, previous = [], 0, -1
    for mark, length in zip(marks, lengths, strict=True):
        cursor += (mark - previous - 1) * CHUNK  # the hole before this piece
        pieces.append((cursor, length))
        cursor += length
        previous = mark
    return pieces


def write_pieces(flat: Path, pieces: list[tuple[int, int]], rng: random.Random) -> int:
    """Fill each piece with random bytes (slices of one random buffer, each chunk tagged with its offset)."""
    largest = max(length for _offset, length in pieces)
    buffer = os.urandom(BUFFER + largest)
    written = 0
    fd = os.open(flat, os.O_WRONLY)
    try:
        for offset, length in pieces:
            start = rng.randrange(BUFFER)
            block = bytearray(buffer[start:start + length])
            for at in range(0, length, CHUNK):  # no two chunks alike, whatever slice they came from
                block[at:at + 16] = struct.pack("<QQ", offset + at, start)
            written += os.pwrite(fd, block, offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


def pick_changes(pieces: list[tuple[int, int]], count: int, rng: random.Random) -> list[int]:
    """``count`` distinct chunk indexes, drawn among the chunks that hold data, in disk order."""
    data_chunks = [index for offset, length in pieces for index in range(offset // CHUNK, (offset + length) // CHUNK)]
    return sorted(rng.sample(data_chunks, min(count, len(data_chunks))))


def write_changes(flat: Path, indexes: list[int]) -> int:
    """Overwrite each chunk with fresh random bytes (one 64 KiB write each); return the bytes changed."""
    fd = os.open(flat, os.O_WRONLY)
    try:
        for index in indexes:
            os.pwrite(fd, os.urandom(CHUNK), index * CHUNK)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(set(indexes)) * CHUNK


def qemu_io_changes(image: Path, indexes: list[int]) -> int:
    """Overwrite each chunk of a qcow2 image through one qemu-io run (so its enabled bitmaps record them)."""
    args = ["qemu-io", "-f", "qcow2"]
    for n, index in enumerate(indexes):
        args += ["-c", f"write -P {n % 255 + 1} {index * CHUNK} {CHUNK}"]
    subprocess.run([*args, str(image)], check=True, capture_output=True)
    return len(set(indexes)) * CHUNK


# page cache and space ----------------------------------------------------------------------------


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [Path(root) / name for root, _dirs, names in os.walk(path) for name in names]
        elif path.exists():
            found.append(path)
    return found


def drop_cache(paths: list[Path]) -> None:
    """Evict these files (directories: every file below) from the page cache, nothing else.

    Everything dirty is written back first (``sync``), so the next measure does not pay for earlier writes.
    """
    os.sync()
    for path in _files(paths):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # removed meanwhile (a staging file)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def allocated(path: Path) -> int:
    """Bytes allocated on disk below ``path`` (sparse files count what they hold)."""
    total = 0
    for file in _files([path]):
        try:
            total += file.stat().st_blocks * 512
        except OSError:
            pass
    return total


# I/O counters (/proc/<pid>/io counts reaped children too: qemu-img is in its parent's figures) ----

IO_KEYS = ("rchar", "wchar", "read_bytes", "write_bytes", "cancelled_write_bytes")


def read_io(pid: int | str) -> dict[str, int]:
    """The I/O counters of one process (``"self"`` for this one); zeros once it is gone."""
    values = dict.fromkeys(IO_KEYS, 0)
    try:
        with open(f"/proc/{pid}/io") as fh:
            for line in fh:
                key, _sep, value = line.partition(":")
                if key in values:
                    values[key] = int(value)
    except OSError:
        pass
    return values


def group_io(pgid: int) -> dict[str, int]:
    """Summed I/O counters of every live process of a process group (a service and its pool children)."""
    total = dict.fromkeys(IO_KEYS, 0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            for key, value in read_io(entry.name).items():
                total[key] += value
    return total


def io_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in IO_KEYS}


class Space:
    """The peak of the space allocated below the benchmark's directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.peak = 0
        self._last = 0.0

    def sample(self, every: float = 0.0) -> None:
        if time.monotonic() - self._last >= every:
            self._last = time.monotonic()
            self.peak = max(self.peak, allocated(self.root))
