"""Small real disk images for the root tests: MBR disks with ext4 written from trees, and LVM."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

MIB = 1 << 20


def run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def mbr_disk(path: Path, size_mib: int, partitions: list[tuple[int, int, str]]) -> None:
    """A sparse disk with an MBR: (start MiB, size MiB, type) per partition."""
    run("truncate", "-s", f"{size_mib}M", str(path))
    table = "label: dos\nlabel-id: 0x12345678\n" + "".join(
        f"start={start * 2048}, size={size * 2048}, type={ptype}\n" for start, size, ptype in partitions
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=table, text=True, check=True, capture_output=True)


def ext4_at(path: Path, offset_mib: int, size_mib: int, tree: Path, uuid: str, label: str = "") -> None:
    """Write an ext4 filesystem from a tree into the image at an offset (no loop device)."""
    args = ["mkfs.ext4", "-q", "-F", "-U", uuid, "-E", f"offset={offset_mib * MIB}", "-d", str(tree)]
    if label:
        args += ["-L", label]
    run(*args, str(path), f"{size_mib}M")


def read_file(path: Path, offset_mib: int, guest_path: str) -> str:
    """A file of the ext4 filesystem at an offset, read with debugfs (nothing mounted)."""
    return run("debugfs", "-R", f"cat {guest_path}", f"{path}?offset={offset_mib * MIB}")


def lvm_crc(data: bytes) -> int:
    """LVM's CRC: CRC-32's register update from 0xf597a6cf, without zlib's final inversion."""
    return zlib.crc32(data, 0xF597A6CF ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def build_pv(text: str, uuid: str = "AbCdEfGhIjKlMnOpQrStUvWxYz012345") -> bytes:
    """A PV's first MiB as pvcreate lays it out: label in sector 1, metadata area at 4 KiB."""
    disk = bytearray(1 << 20)
    mda_start, mda_size = 4096, 1 << 19
    header = uuid.encode() + struct.pack("<Q", 1 << 30)
    header += struct.pack("<QQ", 1 << 20, 0) + struct.pack("<QQ", 0, 0)  # data area, end of list
    header += struct.pack("<QQ", mda_start, mda_size) + struct.pack("<QQ", 0, 0)  # metadata area
    label = bytearray(512)
    label[: 32 + len(header)] = b"LABELONE" + struct.pack("<QII", 1, 0, 32) + b"LVM2 001" + header
    struct.pack_into("<I", label, 16, lvm_crc(bytes(label[20:])))  # blkid checks it
    disk[512:1024] = label
    body = text.encode()
    mda = struct.pack("<I", 0) + b" LVM2 x[5A%r0N*>" + struct.pack("<IQQ", 1, mda_start, mda_size)
    mda += struct.pack("<QQII", 512, len(body), 0, 0)
    disk[mda_start : mda_start + len(mda)] = mda
    disk[mda_start + 512 : mda_start + 512 + len(body)] = body
    return bytes(disk)


def lvm_pv(path: Path, offset_mib: int, vg: str, pv_uuid: str, lvs: list[tuple[str, int, int]]) -> None:
    """Lay a PV with one VG out at an offset, as pvcreate/lvcreate would: (name, first extent, extents).

    Extents are 1 MiB and start 1 MiB into the PV.
    """
    dashed = "-".join(pv_uuid[a:b] for a, b in ((0, 6), (6, 10), (10, 14), (14, 18), (18, 22), (22, 26), (26, 32)))
    volumes = "".join(
        f'{name} {{\nid = "lv-{name}"\nstatus = ["READ", "WRITE", "VISIBLE"]\nsegment_count = 1\n'
        f'segment1 {{\nstart_extent = 0\nextent_count = {count}\ntype = "striped"\nstripe_count = 1\n'
        f'stripes = ["pv0", {first}]\n}}\n}}\n'
        for name, first, count in lvs
    )
    text = (
        f'{vg} {{\nid = "vg-id"\nseqno = 1\nextent_size = 2048\n'
        f'physical_volumes {{\npv0 {{\nid = "{dashed}"\ndevice = "/dev/sda2"\npe_start = 2048\npe_count = 100\n}}\n}}\n'
        f"logical_volumes {{\n{volumes}}}\n}}\n"
    )
    with path.open("r+b") as f:
        f.seek(offset_mib * MIB)
        f.write(build_pv(text, pv_uuid))


def loops_on(path: Path) -> list[str]:
    """Loop devices still attached to a file (there must be none after a morph)."""
    out = run("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE")
    return [line for line in out.splitlines() if str(path.parent) in line]


def mounts_under(prefix: str) -> list[str]:
    out = run("findmnt", "--list", "--noheadings", "--output", "TARGET")
    return [line for line in out.splitlines() if line.startswith(prefix)]


def have_tools(*names: str) -> bool:
    return all(shutil.which(n) for n in names)
