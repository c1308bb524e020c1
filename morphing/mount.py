"""Guest access: disks → loop devices at partition/LV offsets → mounted root, ready for chroot."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from morphing import image, lvm
from morphing.detect import detect_os
from morphing.devices import BlockId, DeviceMap, legacy_names
from morphing.errors import MorphError
from morphing.tree import LocalTree
from providers.types import OsInfo, OsType, Reporter

LINUX_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "jfs", "reiserfs"}
# Mounted below the root when fstab has them: what update-initramfs and GRUB need.
_SYSTEM_MOUNTS = ("/usr", "/var", "/boot", "/boot/efi")


@dataclass(frozen=True)
class Volume:
    """A filesystem candidate: a partition, a whole disk or a linear LV, as a byte range."""

    description: str
    raw: Path
    offset: int
    size: int
    block: BlockId
    names: tuple[str, ...] = ()


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MorphError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


class GuestMount:
    """Mounts a guest's disks (root, then /usr, /var, /boot from its fstab, then proc/sys/dev).

    Use as a context manager; everything is unmounted and detached on exit, also on errors
    and on ``Cancelled``. Needs root, loop devices, and /dev/fuse for non-raw images.
    """

    def __init__(self, disks: list[tuple[Path, str]], reporter: Reporter) -> None:
        self.disks = disks
        self.reporter = reporter
        self.stack = contextlib.ExitStack()
        self.root = Path()
        self.os_info = OsInfo()
        self.devices: DeviceMap = {}
        self.volumes: list[Volume] = []

    def __enter__(self) -> GuestMount:
        try:
            self._mount_all()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stack.close()

    def _mount_all(self) -> None:
        raws = [self.stack.enter_context(image.raw_view(path, fmt)) for path, fmt in self.disks]
        self.volumes = self._find_volumes(raws)
        for vol in self.volumes:
            if vol.block.uuid or vol.block.fstype:
                for name in vol.names:
                    self.devices[name] = vol.block
        mountpoint = Path(tempfile.mkdtemp(prefix="coriolis-morph-"))
        self.stack.callback(_remove_dir, mountpoint)
        root_vol = self._mount_root(mountpoint)
        self.root = mountpoint
        self.reporter.info(f"guest root is {root_vol.description} ({root_vol.block.fstype})")
        self._mount_system_dirs()
        for name in ("proc", "sys", "dev"):
            target = self.root / name
            if target.is_dir():
                _run(["mount", "--bind", f"/{name}", str(target)])
                self.stack.callback(_unmount, target)

    def _find_volumes(self, raws: list[Path]) -> list[Volume]:
        volumes: list[Volume] = []
        pvs: dict[str, tuple[Path, int]] = {}
        metadata: dict[str, str] = {}
        for index, raw in enumerate(raws):
            for part in image.read_partitions(raw):
                block = image.probe(raw, part.offset, part.size)
                where = f"disk {index} " + (f"partition {part.number}" if part.number else "(whole disk)")
                if block.fstype == "LVM2_member":
                    try:
                        with open(raw, "rb") as f:
                            pv = lvm.read_physical_volume(f, part.offset)
                    except (lvm.LvmError, OSError) as exc:
                        self.reporter.warn(f"{where}: unreadable LVM physical volume: {exc}")
                        continue
                    pvs[pv.uuid] = (raw, part.offset)
                    metadata[pv.uuid] = pv.metadata
                volumes.append(
                    Volume(where, raw, part.offset, part.size, block, tuple(legacy_names(index, part.number)))
                )
        seen: set[tuple[str, str]] = set()
        for text in metadata.values():
            lvs, skipped = lvm.linear_volumes(lvm.parse_metadata(text))
            for name in skipped:
                self.reporter.warn(f"LV {name} cannot be mounted without device-mapper")
            for lv in lvs:
                if (lv.vg, lv.name) in seen or lv.pv_uuid not in pvs:
                    continue
                seen.add((lv.vg, lv.name))
                raw, base = pvs[lv.pv_uuid]
                block = image.probe(raw, base + lv.offset, lv.size)
                names = (
                    f"/dev/{lv.vg}/{lv.name}",
                    f"/dev/mapper/{lv.vg.replace('-', '--')}-{lv.name.replace('-', '--')}",
                )
                volumes.append(Volume(f"LV {lv.vg}/{lv.name}", raw, base + lv.offset, lv.size, block, names))
        return volumes

    def _mount_root(self, mountpoint: Path) -> Volume:
        found = []
        for vol in self.volumes:
            fstype = vol.block.fstype
            if fstype not in LINUX_FILESYSTEMS and fstype != "ntfs":
                continue
            found.append(f"{vol.description}: {fstype}")
            try:
                undo = self._mount_volume(vol, mountpoint)
            except MorphError as exc:
                self.reporter.warn(f"cannot mount {vol.description}: {exc}")
                continue
            info = detect_os(mountpoint)
            if info.os_type != OsType.UNKNOWN:
                self.os_info = info
                self.stack.push(undo)
                return vol
            undo.close()
        what = "; ".join(found) if found else "no filesystem at all"
        raise MorphError(f"no operating system found on the disks ({what})")

    def _mount_volume(self, vol: Volume, target: Path) -> contextlib.ExitStack:
        undo = contextlib.ExitStack()
        try:
            loop = _run(
                [
                    "losetup",
                    "--find",
                    "--show",
                    "--offset",
                    str(vol.offset),
                    "--sizelimit",
                    str(vol.size),
                    str(vol.raw),
                ]
            )
            undo.callback(_detach, loop)
            args = ["mount"]
            if vol.block.fstype == "ntfs":
                args += ["-t", "ntfs-3g"]
            _run([*args, loop, str(target)])
            undo.callback(_unmount, target)
        except BaseException:
            undo.close()
            raise
        return undo

    def _mount_system_dirs(self) -> None:
        fstab = LocalTree(self.root).read("/etc/fstab") or ""
        wanted: dict[str, str] = {}
        for line in fstab.splitlines():
            fields = line.split()
            if len(fields) >= 2 and not fields[0].startswith("#") and fields[1] in _SYSTEM_MOUNTS:
                wanted[fields[1]] = fields[0]
        for mountpoint in sorted(wanted, key=len):
            vol = self._resolve(wanted[mountpoint])
            if vol is None:
                self.reporter.warn(f"fstab: cannot find {wanted[mountpoint]} for {mountpoint}; not mounted")
                continue
            target = LocalTree(self.root).path(mountpoint)
            target.mkdir(parents=True, exist_ok=True)
            self.stack.push(self._mount_volume(vol, target))

    def _resolve(self, spec: str) -> Volume | None:
        key, _, value = spec.partition("=")
        for prefix, attr in (("/dev/disk/by-uuid/", "UUID"), ("/dev/disk/by-label/", "LABEL")):
            if spec.startswith(prefix):
                key, value = attr, spec[len(prefix) :]
        for vol in self.volumes:
            if (
                (key == "UUID" and value and vol.block.uuid == value)
                or (key == "LABEL" and value and vol.block.label == value)
                or spec in vol.names
            ):
                return vol
        return None


def _unmount(target: Path) -> None:
    for _ in range(3):
        if subprocess.run(["umount", str(target)], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def _detach(loop: str) -> None:
    subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)


def _remove_dir(path: Path) -> None:
    # rmdir only: never delete recursively where something may still be mounted.
    with contextlib.suppress(OSError):
        os.rmdir(path)
