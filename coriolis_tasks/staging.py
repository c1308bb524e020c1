"""The staging area: one directory per migration and instance, removed when the migration ends."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# stages that write a disk image into the staging area: checked for space before they start
SPACE_STAGES = frozenset({"EXPORT_DISK", "CONVERT_DISK", "CLONE_DISK"})


class StagingFull(Exception):
    """The staging area has too little free space for a stage to start; the message says how much."""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "instance"


def migration_dir(staging_root: str, migration_id: str) -> Path:
    return Path(staging_root) / migration_id


def instance_dir(staging_root: str, migration_id: str, instance: str, create: bool = True) -> Path:
    """The staging directory of one instance (a multi-node setup puts the root on shared storage)."""
    path = migration_dir(staging_root, migration_id) / _slug(instance)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def remove(staging_root: str, migration_id: str, instance: str | None = None) -> None:
    """Remove a migration's (or one instance's) staging files; safe to repeat."""
    path = migration_dir(staging_root, migration_id)
    if instance is not None:
        path = path / _slug(instance)
    shutil.rmtree(path, ignore_errors=True)


def _gib(value: int) -> str:
    return f"{value / (1 << 30):.1f} GiB"


def check_space(path: str | Path, needed: int, reserve: int) -> None:
    """Raise ``StagingFull`` unless the file system of ``path`` has ``needed`` + ``reserve`` bytes free.

    Args:
        path: the staging directory (or any path on its file system) the stage writes to.
        needed: what the stage may write: the disk's declared size (an image never grows past it).
        reserve: what must stay free besides (setting ``staging_reserve_bytes``).
    """
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize
    if free < needed + reserve:
        raise StagingFull(
            f"staging_dir has {_gib(free)} free: too little for a disk of {_gib(needed)} while keeping "
            f"{_gib(reserve)} free (staging_reserve_bytes); free space or point staging_dir at larger storage"
        )
