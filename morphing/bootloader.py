"""Device-independent boot: fstab, kernel command lines and resume devices by UUID, not /dev/sdX."""

from __future__ import annotations

import re
from collections.abc import Iterable

from morphing.changes import ChangeLog
from morphing.devices import VANISHING_DEVICE, DeviceMap, resolve, stable_name
from morphing.tree import GuestTree

_ROOT_ARG = re.compile(r"(?<![\w.-])root=(" + VANISHING_DEVICE.pattern + r")(?=[\s\"';]|$)")
_RESUME_ARG = re.compile(r"([ \t]*)(?<![\w.-])resume=(" + VANISHING_DEVICE.pattern + r")(?=[\s\"';]|$)")
GRUBENV_SIZE = 1024


def rewrite_fstab(text: str, devices: DeviceMap) -> tuple[str, list[str], list[str]]:
    """Replace vanishing device names in fstab's first column with ``UUID=`` (or ``LABEL=``).

    Args:
        text: the fstab.
        devices: old device path → what is on it now.

    Returns:
        The new text, the changes (one line each), and warnings for devices not found.
    """
    lines: list[str] = []
    changes: list[str] = []
    warnings: list[str] = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if fields and not fields[0].startswith("#") and VANISHING_DEVICE.fullmatch(fields[0]):
            device = fields[0]
            fstype = fields[2] if len(fields) > 2 else None
            name = stable_name(resolve(device, devices, fstype))
            if name is not None:
                line = line.replace(device, name, 1)
                where = fields[1] if len(fields) > 1 else "?"
                changes.append(f"fstab: {device} ({where}) is now {name}")
            else:
                warnings.append(f"fstab: {device} not found on the migrated disks; left as is")
        lines.append(line)
    return "".join(lines), changes, warnings


def rewrite_kernel_args(text: str, devices: DeviceMap, where: str) -> tuple[str, list[str]]:
    """``root=``/``resume=`` naming a vanishing device → ``UUID=...``; an unknown ``resume=`` is dropped.

    Args:
        text: a grub.cfg, /etc/default/grub, a BLS entry, /etc/kernel/cmdline or a grubenv.
        devices: old device path → what is on it now.
        where: the file's name, for the change lines.
    """
    changes: list[str] = []

    def root_uuid(match: re.Match[str]) -> str:
        name = stable_name(resolve(match.group(1), devices))
        if name is None:
            return match.group(0)
        changes.append(f"{where}: root={match.group(1)} is now root={name}")
        return f"root={name}"

    def resume_uuid(match: re.Match[str]) -> str:
        name = stable_name(resolve(match.group(2), devices, "swap"))
        if name is None:
            changes.append(f"{where}: dropped {match.group(0).strip()}")
            return ""
        changes.append(f"{where}: resume={match.group(2)} is now resume={name}")
        return f"{match.group(1)}resume={name}"

    text = _ROOT_ARG.sub(root_uuid, text)
    text = _RESUME_ARG.sub(resume_uuid, text)
    return text, changes


def rewrite_grubenv(text: str, devices: DeviceMap, where: str) -> tuple[str, list[str]]:
    """The kernel arguments in a GRUB environment block (RHEL 8's ``kernelopts``), kept 1024 bytes."""
    new, changes = rewrite_kernel_args(text, devices, where)
    if not changes:
        return text, []
    body = new.rstrip("#")
    if len(body.encode()) > GRUBENV_SIZE:
        return text, []
    return body + "#" * (GRUBENV_SIZE - len(body.encode())), changes


def rewrite_resume_conf(text: str, devices: DeviceMap, where: str) -> tuple[str, list[str]]:
    """initramfs-tools' ``RESUME=/dev/sdXN`` → ``RESUME=UUID=...`` (or ``none`` if unknown)."""
    changes: list[str] = []
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        match = re.fullmatch(r"\s*RESUME=[\"']?(" + VANISHING_DEVICE.pattern + r")[\"']?\s*", line)
        if match:
            value = stable_name(resolve(match.group(1), devices, "swap")) or "none"
            line = f"RESUME={value}\n"
            changes.append(f"{where}: RESUME={match.group(1)} is now RESUME={value}")
        lines.append(line)
    return "".join(lines), changes


def is_generated_grub_cfg(text: str) -> bool:
    """Whether grub-mkconfig wrote this grub.cfg (so it can be regenerated)."""
    return "### BEGIN /etc/grub.d/" in text


def fix_fstab(tree: GuestTree, devices: DeviceMap, log: ChangeLog) -> None:
    """Rewrite /etc/fstab's vanishing device names; warn about those not found."""
    old = tree.read("/etc/fstab")
    if old is None:
        return
    new, changes, warnings = rewrite_fstab(old, devices)
    save(tree, log, "/etc/fstab", old, new, changes)
    for warning in warnings:
        log.warn(warning)


def fix_kernel_args(tree: GuestTree, devices: DeviceMap, log: ChangeLog, paths: Iterable[str]) -> None:
    """Rewrite ``root=``/``resume=`` in each file that exists (grubenv blocks keep their size)."""
    for path in dict.fromkeys(paths):
        old = tree.read(path)
        if old is None:
            continue
        rewrite = rewrite_grubenv if path.endswith("/grubenv") else rewrite_kernel_args
        save(tree, log, path, old, *rewrite(old, devices, path))


def grub_files(tree: GuestTree) -> list[str]:
    """The files of a grub2 guest that carry kernel arguments: defaults, configs, env, BLS entries."""
    paths = ["/etc/default/grub", "/etc/kernel/cmdline", "/boot/grub2/grub.cfg", "/boot/grub2/grubenv"]
    paths += ["/boot/grub/grub.cfg"]
    for vendor in tree.listdir("/boot/efi/EFI"):
        if vendor.upper() != "BOOT":
            paths += [f"/boot/efi/EFI/{vendor}/grub.cfg", f"/boot/efi/EFI/{vendor}/grubenv"]
    paths += tree.glob("/boot/loader/entries", "*.conf")
    return paths


def save(tree: GuestTree, log: ChangeLog, path: str, old: str, new: str, changes: list[str]) -> None:
    """Write ``new`` over ``path`` when it differs, and log each change."""
    if new != old:
        tree.write(path, new)
        for change in changes:
            log.record(change)
