"""The recipe of an rpm-family golden case (a phony guest, the morph's inputs, what must come out) and the
disk layout and pieces the families' recipes share (``families_redhat.py``, ``families_suse.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from morphing.devices import BlockId
from morphing.options import MorphOptions
from providers.types import TargetProfile
from tests.morphing.phony import Guest

UUID_BOOT = "5d8c3a1e-0000-4000-8000-0000000000b0"
UUID_ROOT = "5d8c3a1e-0000-4000-8000-0000000000a0"
UUID_SWAP = "5d8c3a1e-0000-4000-8000-0000000000c0"
UUID_DATA = "5d8c3a1e-0000-4000-8000-0000000000d0"
ESP_UUID = "7B77-95E7"
# sda1 ESP (UEFI guests), sda2 /boot, sda3 root (guests without LVM), sda4 swap, sdb1 data.
DEVICES = {
    "/dev/sda1": BlockId(ESP_UUID, "vfat"),
    "/dev/sda2": BlockId(UUID_BOOT, "xfs"),
    "/dev/sda3": BlockId(UUID_ROOT, "xfs"),
    "/dev/sda4": BlockId(UUID_SWAP, "swap"),
    "/dev/sdb1": BlockId(UUID_DATA, "xfs"),
}
DRIVERS = "virtio_pci virtio_blk virtio_scsi virtio_net virtio_console"
STATIC = MorphOptions(preserve_static_ips=True)
MAC1 = "00:50:56:aa:bb:01"


@dataclass
class FamilyCase:
    """A phony guest, the morph's inputs, and what must come out besides the expected tree."""

    guest: Guest
    detected: tuple[str, str, str]
    commands: list[list[str]]
    nics: int = 1
    options: MorphOptions = field(default_factory=MorphOptions)
    target: TargetProfile = field(default_factory=TargetProfile)
    warnings: list[str] = field(default_factory=list)
    devices: dict[str, BlockId] = field(default_factory=lambda: DEVICES)
    outputs: dict[str, str] = field(default_factory=dict)


def dracut(kv: str, image: str = "/boot/initramfs-{kv}.img") -> list[str]:
    return ["dracut", "-f", "--add-drivers", DRIVERS, image.format(kv=kv), kv]
