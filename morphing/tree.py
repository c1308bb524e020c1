"""A guest's root file tree, seen from the host, with symlinks resolved inside the guest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

BACKUP_DIR = "var/lib/coriolis/backup"


class GuestTree:
    """File access below a guest root; paths are guest paths ("/etc/fstab" or "etc/fstab")."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, guest_path: str) -> Path:
        """The host path of ``guest_path``, following symlinks as the guest would (never out of root)."""
        parts = [p for p in PurePosixPath(guest_path).parts if p not in ("/", "", ".")]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            host = self.root.joinpath(*resolved, part)
            if host.is_symlink():
                hops += 1
                if hops > 40:
                    raise OSError(f"too many symlinks in guest path {guest_path}")
                target = PurePosixPath(os.readlink(host))
                if target.is_absolute():
                    resolved = []
                parts = [p for p in target.parts if p not in ("/", "", ".")] + parts
                continue
            resolved.append(part)
        return self.root.joinpath(*resolved)

    def exists(self, guest_path: str) -> bool:
        return self.path(guest_path).exists()

    def read(self, guest_path: str) -> str | None:
        """The text of a guest file, or None when it does not exist."""
        host = self.path(guest_path)
        if not host.is_file():
            return None
        return host.read_text(encoding="utf-8", errors="surrogateescape")

    def write(self, guest_path: str, text: str, mode: int | None = None) -> None:
        """Write a guest file (parents created); keep its mode unless ``mode`` is given."""
        host = self.path(guest_path)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text, encoding="utf-8", errors="surrogateescape")
        if mode is not None:
            host.chmod(mode)

    def glob(self, guest_dir: str, pattern: str) -> list[str]:
        """Guest paths of the files in ``guest_dir`` matching ``pattern``, sorted."""
        host = self.path(guest_dir)
        if not host.is_dir():
            return []
        base = "/" + guest_dir.strip("/")
        return sorted(f"{base}/{p.name}" for p in host.glob(pattern) if p.is_file() or p.is_symlink())

    def backup(self, guest_path: str) -> None:
        """Move a guest file out of the way, under /var/lib/coriolis/backup (kept for debugging)."""
        host = self.path(guest_path)
        if not (host.exists() or host.is_symlink()):
            return
        dest = self.root / BACKUP_DIR / guest_path.strip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() or dest.is_symlink():
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            else:
                dest.unlink()
        shutil.move(str(host), str(dest))

    def remove(self, guest_path: str) -> bool:
        """Delete a guest file or directory tree (not following symlinks); True if it existed."""
        parent = self.path(str(PurePosixPath("/" + guest_path.strip("/")).parent))
        host = parent / PurePosixPath(guest_path).name
        if host.is_symlink() or host.is_file():
            host.unlink()
            return True
        if host.is_dir():
            shutil.rmtree(host)
            return True
        return False
