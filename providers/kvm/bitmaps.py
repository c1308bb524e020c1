"""Persistent dirty bitmaps of qcow2 images: add, list, drop, and read a bitmap's dirty extents.

Bitmaps are what libvirt's incremental backups use: an enabled persistent bitmap records every
cluster a qemu process (the guest's, ``qemu-io``, ``qemu-img``) writes. Each sync of a transfer
starts a new bitmap named ``coriolis.<key>.<n>``; the next sync reads the dirty extents of the
bitmap its committed state names, so writes made while a sync runs are never lost.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from providers.kvm.nbd import STATE_DIRTY, NbdClient, exported
from providers.types import ProviderError

PREFIX = "coriolis."


@dataclass(frozen=True)
class Bitmap:
    """A persistent bitmap of an image: its name, granularity and whether it can be trusted."""

    name: str
    granularity: int
    consistent: bool


def _qemu_img(*args: str) -> str:
    proc = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.strip()
        if "lock" in message:
            message += " (the image is in use: stop the guest, or sync from a copy)"
        raise ProviderError(f"qemu-img {args[0]} failed: {message}")
    return proc.stdout


def list_bitmaps(path: str | Path) -> list[Bitmap]:
    """The persistent bitmaps of a qcow2 image.

    A bitmap flagged ``in-use`` in a closed image was left by a process that died without
    saving it: its content cannot be trusted (``consistent`` is False).
    """
    info = json.loads(_qemu_img("info", "--force-share", "--output=json", "-f", "qcow2", str(path)))
    data = (info.get("format-specific") or {}).get("data") or {}
    return [
        Bitmap(b["name"], int(b.get("granularity") or 65536), "in-use" not in (b.get("flags") or []))
        for b in data.get("bitmaps") or []
    ]


def add(path: str | Path, name: str) -> None:
    """Add an enabled persistent bitmap: every later write to the image is recorded in it."""
    _qemu_img("bitmap", "--add", "--enable", "-f", "qcow2", str(path), name)


def remove(path: str | Path, names: list[str]) -> None:
    """Remove bitmaps; safe to repeat with names already gone."""
    present = {b.name for b in list_bitmaps(path)}
    for name in names:
        if name in present:
            _qemu_img("bitmap", "--remove", "-f", "qcow2", str(path), name)


def dirty_extents(path: str | Path, name: str) -> list[tuple[int, int]]:
    """``(offset, length)`` of every area bitmap ``name`` marks dirty (merged, in order).

    The image is exported read-only through qemu-nbd with the bitmap, and the NBD block status
    of the meta context ``qemu:dirty-bitmap:<name>`` is read over the whole disk.
    """
    with exported(path, "qcow2", bitmap=name) as sock, NbdClient(sock, f"qemu:dirty-bitmap:{name}") as client:
        extents: list[tuple[int, int]] = []
        for offset, length, flags in client.block_status(0, client.size):
            if not flags & STATE_DIRTY:
                continue
            if extents and extents[-1][0] + extents[-1][1] == offset:
                extents[-1] = (extents[-1][0], extents[-1][1] + length)
            else:
                extents.append((offset, length))
        return extents
