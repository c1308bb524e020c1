"""Disk images as raw bytes: a FUSE raw view of qcow2/vmdk/..., their partition tables, blkid probes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from morphing.devices import BlockId
from morphing.errors import MorphError

# qemu block driver for each image format name we are handed.
_DRIVERS = {
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vhd": "vpc",
    "vpc": "vpc",
    "vhdx": "vhdx",
    "vdi": "vdi",
    "qed": "qed",
}
_EXTENDED_TYPES = {"5", "f", "85"}


@dataclass(frozen=True)
class Partition:
    """A partition (or, with ``number`` None, the whole disk) as a byte range of a raw view."""

    number: int | None
    offset: int
    size: int
    type: str = ""


def _is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split()[4] == target for line in f)


@contextlib.contextmanager
def raw_view(path: Path, fmt: str, timeout: float = 20) -> Iterator[Path]:
    """A writable raw view of a disk image: the image itself if raw, else a FUSE export.

    The export (qemu-storage-daemon, type=fuse) writes through to the image in place; it is
    taken down when the block exits. Needs /dev/fuse.

    Args:
        path: the disk image.
        fmt: its format (raw, qcow2, vmdk, vhd/vpc, vhdx, vdi, qed): never probed.
    """
    if fmt == "raw":
        yield path
        return
    driver = _DRIVERS.get(fmt)
    if driver is None:
        raise MorphError(f"cannot morph a disk in format {fmt!r}")
    workdir = Path(tempfile.mkdtemp(prefix="coriolis-view-"))
    view = workdir / "disk.raw"
    view.touch()
    proc = subprocess.Popen(
        [
            "qemu-storage-daemon",
            "--blockdev",
            f"driver=file,node-name=file0,filename={path}",
            "--blockdev",
            f"driver={driver},node-name=fmt0,file=file0",
            "--export",
            f"type=fuse,id=view0,node-name=fmt0,mountpoint={view},writable=on",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _is_mounted(view):
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise MorphError(f"qemu-storage-daemon could not export {path.name}: {output.strip()}")
            if time.monotonic() > deadline:
                raise MorphError(f"qemu-storage-daemon did not export {path.name} within {timeout:.0f} s")
            time.sleep(0.05)
        yield view
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if _is_mounted(view):
            subprocess.run(["umount", "-l", str(view)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            view.unlink()
            workdir.rmdir()


def read_partitions(raw: Path) -> list[Partition]:
    """The partitions of a raw disk (MBR or GPT, via ``sfdisk --json``); the whole disk if none."""
    size = raw.stat().st_size
    proc = subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return [Partition(None, 0, size)]
    table = json.loads(proc.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    device = table.get("device", str(raw))
    found: list[Partition] = []
    for entry in table.get("partitions", []):
        ptype = str(entry.get("type", "")).lower()
        if table.get("label") == "dos" and ptype in _EXTENDED_TYPES:
            continue
        number = int(entry["node"][len(device) :].lstrip("p"))
        found.append(Partition(number, int(entry["start"]) * sector, int(entry["size"]) * sector, ptype))
    return found or [Partition(None, 0, size)]


def probe(raw: Path, offset: int, size: int) -> BlockId:
    """What ``blkid`` finds at a byte range of a raw disk (no loop device needed)."""
    proc = subprocess.run(
        ["blkid", "-p", "-o", "export", "-O", str(offset), "-S", str(size), str(raw)],
        capture_output=True,
        text=True,
        check=False,
    )
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return BlockId(values.get("UUID"), values.get("TYPE"), values.get("LABEL"))
