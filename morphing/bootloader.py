"""Device-independent boot: fstab, kernel command lines and resume devices by UUID, not /dev/sdX."""

from __future__ import annotations

import re

from morphing.devices import LEGACY_DEVICE, DeviceMap

_ROOT_ARG = re.compile(r"(?<![\w.-])root=(" + LEGACY_DEVICE.pattern + r")(?=[\s\"']|$)")
_RESUME_ARG = re.compile(r"[ \t]*(?<![\w.-])resume=" + LEGACY_DEVICE.pattern + r"(?=[\s\"']|$)")


def rewrite_fstab(text: str, devices: DeviceMap) -> tuple[str, list[str], list[str]]:
    """Replace old device names in fstab's first column with ``UUID=``.

    Args:
        text: the fstab.
        devices: old device path → what is on it now.

    Returns:
        The new text, the changes (one line each), and warnings for devices without a UUID.
    """
    lines: list[str] = []
    changes: list[str] = []
    warnings: list[str] = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if fields and not fields[0].startswith("#") and LEGACY_DEVICE.fullmatch(fields[0]):
            device = fields[0]
            block = devices.get(device)
            if block is not None and block.uuid:
                line = line.replace(device, f"UUID={block.uuid}", 1)
                where = fields[1] if len(fields) > 1 else "?"
                changes.append(f"fstab: {device} ({where}) is now UUID={block.uuid}")
            else:
                warnings.append(f"fstab: {device} not found on the migrated disks; left as is")
        lines.append(line)
    return "".join(lines), changes, warnings


def rewrite_kernel_args(text: str, devices: DeviceMap, where: str) -> tuple[str, list[str]]:
    """``root=/dev/sdXN`` → ``root=UUID=...``; drop ``resume=`` naming an old device.

    Args:
        text: a grub.cfg or /etc/default/grub.
        devices: old device path → what is on it now.
        where: the file's name, for the change lines.
    """
    changes: list[str] = []

    def root_uuid(match: re.Match[str]) -> str:
        block = devices.get(match.group(1))
        if block is None or not block.uuid:
            return match.group(0)
        changes.append(f"{where}: root={match.group(1)} is now root=UUID={block.uuid}")
        return f"root=UUID={block.uuid}"

    def drop_resume(match: re.Match[str]) -> str:
        changes.append(f"{where}: dropped {match.group(0).strip()}")
        return ""

    text = _ROOT_ARG.sub(root_uuid, text)
    text = _RESUME_ARG.sub(drop_resume, text)
    return text, changes


def rewrite_resume_conf(text: str, devices: DeviceMap, where: str) -> tuple[str, list[str]]:
    """initramfs-tools' ``RESUME=/dev/sdXN`` → ``RESUME=UUID=...`` (or ``none`` if unknown)."""
    changes: list[str] = []
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        match = re.fullmatch(r"\s*RESUME=[\"']?(" + LEGACY_DEVICE.pattern + r")[\"']?\s*", line)
        if match:
            block = devices.get(match.group(1))
            value = f"UUID={block.uuid}" if block is not None and block.uuid else "none"
            line = f"RESUME={value}\n"
            changes.append(f"{where}: RESUME={match.group(1)} is now RESUME={value}")
        lines.append(line)
    return "".join(lines), changes


def is_generated_grub_cfg(text: str) -> bool:
    """Whether grub-mkconfig wrote this grub.cfg (so it can be regenerated)."""
    return "### BEGIN /etc/grub.d/" in text
