"""The staging area: one directory per migration and instance, removed when the migration ends."""

from __future__ import annotations

import re
import shutil
from pathlib import Path


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
