"""Small real disk images: MBR disks with ext4 written from trees (mkfs -d, nothing mounted)."""

from __future__ import annotations

import shutil
import subprocess
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


def have_tools(*names: str) -> bool:
    return all(shutil.which(n) for n in names)


BUSYBOX = Path("/bin/busybox")
ROOT_UUID = "1b7e3c2a-0000-4000-8000-000000000001"
SRV_UUID = "1b7e3c2a-0000-4000-8000-000000000002"
LOG_UUID = "1b7e3c2a-0000-4000-8000-000000000003"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'
DPKG_STATUS = (
    "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n"
    "Package: open-vm-tools\nStatus: install ok installed\nVersion: 2:12.2.0\n"
)


def busybox_debian(root: Path, fstab: str) -> Path:
    """A small Debian-shaped guest whose programs are busybox-static (they really run in the appliance)."""
    if not BUSYBOX.is_file():
        raise RuntimeError("busybox-static is needed (deploy/packages/apt-test.txt)")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/network", "etc/initramfs-tools", "boot/grub",
              "var/lib/dpkg", "tmp", "root", "proc", "sys", "dev", "lib/modules/6.1.0-1-amd64"):  # fmt: skip
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in ("sh", "ls", "cat", "echo", "rm", "id", "mkdir", "sleep", "nc", "wget", "cp", "sed", "touch"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "usr/bin/env").symlink_to("/bin/busybox")
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "etc/debian_version").write_text("12.5\n")
    (root / "etc/hostname").write_text("phony\n")
    (root / "etc/fstab").write_text(fstab)
    (root / "etc/shadow").write_text("root:guest-shadow-line:19000:0:99999:7:::\n")
    (root / "etc/network/interfaces").write_text("auto ens192\niface ens192 inet dhcp\n")
    (root / "etc/initramfs-tools/modules").write_text("ahci\n")
    (root / "var/lib/dpkg/status").write_text(DPKG_STATUS)
    (root / "boot/vmlinuz-6.1.0-1-amd64").write_bytes(b"not a kernel")
    return root


def disk_from_trees(path: Path, trees: list[tuple[Path, str, int]]) -> Path:
    """An MBR disk with one ext4 partition per (tree, uuid, size MiB), written without mounting."""
    start, parts = 1, []
    for _tree, _uuid, size in trees:
        parts.append((start, size, "83"))
        start += size
    mbr_disk(path, start + 1, parts)
    offset = 1
    for tree, uuid, size in trees:
        ext4_at(path, offset, size, tree, uuid)
        offset += size
    return path
