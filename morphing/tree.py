"""A guest's root file tree: the interface fixers see, and its plain-directory implementation.

Fixers, detection and the network modules only ever name *guest* paths ("/etc/fstab") and go
through ``GuestTree``; they never learn how the guest is reached. ``LocalTree`` serves a plain
directory (golden tests); the appliance backend serves a guest whose disks are attached to a
libguestfs appliance. Symlinks are resolved as the guest would, never out of its root.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from morphing.registry import HiveHandle

BACKUP_DIR = "var/lib/coriolis/backup"


@runtime_checkable
class GuestTree(Protocol):
    """File access below a guest root; every path is a guest path ("/etc/fstab" or "etc/fstab")."""

    def exists(self, guest_path: str) -> bool: ...

    def is_dir(self, guest_path: str) -> bool: ...

    def is_file(self, guest_path: str) -> bool: ...

    def is_symlink(self, guest_path: str) -> bool: ...

    def read(self, guest_path: str) -> str | None:
        """The text of a guest file, or None when it does not exist."""
        ...

    def read_bytes(self, guest_path: str, limit: int | None = None) -> bytes | None:
        """The bytes of a guest file (the first ``limit`` of them), or None when it does not exist."""
        ...

    def write(self, guest_path: str, text: str, mode: int | None = None) -> None:
        """Write a guest file (parents created); keep its mode unless ``mode`` is given."""
        ...

    def write_bytes(self, guest_path: str, data: bytes, mode: int | None = None) -> None: ...

    def glob(self, guest_dir: str, pattern: str) -> list[str]:
        """Guest paths of the files (or symlinks) in ``guest_dir`` matching ``pattern``, sorted."""
        ...

    def listdir(self, guest_dir: str) -> list[str]:
        """Names in a guest directory, sorted ([] when it is not a directory)."""
        ...

    def mkdir(self, guest_path: str, mode: int = 0o755) -> None:
        """Create a guest directory and its parents (no error when it exists)."""
        ...

    def remove(self, guest_path: str) -> bool:
        """Delete a guest file or directory tree (not following a final symlink); True if it existed."""
        ...

    def rename(self, guest_src: str, guest_dst: str) -> None:
        """Move a guest file over another (atomic on one filesystem)."""
        ...

    def backup(self, guest_path: str) -> None:
        """Move a guest file out of the way, under /var/lib/coriolis/backup (kept for debugging)."""
        ...

    def symlink(self, target: str, guest_path: str) -> None:
        """Make ``guest_path`` a symlink to ``target`` (taken literally, as the guest will read it)."""
        ...

    def readlink(self, guest_path: str) -> str | None:
        """The target of a guest symlink, or None when it is not one."""
        ...

    def chmod(self, guest_path: str, mode: int) -> None: ...

    def copy(self, guest_src: str, guest_dst: str) -> None:
        """Copy a guest file (contents and mode) to another guest path, parents created."""
        ...

    def upload(self, host_file: Path, guest_path: str, mode: int | None = None) -> None:
        """Copy a file the *service* owns (a driver, a script) into the guest."""
        ...

    def open_hive(self, guest_path: str, write: bool = False) -> AbstractContextManager[HiveHandle]:
        """A Windows registry hive of the guest, open for the block (changes kept on ``commit``).

        Raises:
            OSError: the file is missing or not a hive.
        """
        ...


@functools.cache
def _Hive(hivex):  # noqa: N802 - returns a class
    """hivex's handle class, minus one flaw: an object whose open failed has no handle, and hivex's own ``__del__``
    then raises when it is collected. Collected in the middle of other work, that unraisable error was formatted
    (Python 3.11's traceback calls ``ast.parse``) inside a running ``ast.parse`` and broke it."""

    class Hive(hivex.Hivex):
        def __del__(self) -> None:
            if "_o" in self.__dict__:
                super().__del__()

    return Hive


def _parts(guest_path: str) -> list[str]:
    return [p for p in PurePosixPath(guest_path).parts if p not in ("/", "", ".")]


class LocalTree:
    """A guest tree that is a plain directory on this host (golden tests, phony guests)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, guest_path: str) -> Path:
        """The host path of ``guest_path``, following symlinks as the guest would (never out of root)."""
        parts = _parts(guest_path)
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
                parts = _parts(str(target)) + parts
                continue
            resolved.append(part)
        return self.root.joinpath(*resolved)

    def _entry(self, guest_path: str) -> Path:
        """The host path of the entry itself: its parent resolved, its last name not followed."""
        parent = self.path(str(PurePosixPath("/" + guest_path.strip("/")).parent))
        return parent / PurePosixPath(guest_path).name

    def exists(self, guest_path: str) -> bool:
        return self.path(guest_path).exists()

    def is_dir(self, guest_path: str) -> bool:
        return self.path(guest_path).is_dir()

    def is_file(self, guest_path: str) -> bool:
        return self.path(guest_path).is_file()

    def is_symlink(self, guest_path: str) -> bool:
        return self._entry(guest_path).is_symlink()

    def read(self, guest_path: str) -> str | None:
        data = self.read_bytes(guest_path)
        return None if data is None else data.decode("utf-8", errors="surrogateescape")

    def read_bytes(self, guest_path: str, limit: int | None = None) -> bytes | None:
        host = self.path(guest_path)
        if not host.is_file():
            return None
        with host.open("rb") as f:
            return f.read() if limit is None else f.read(limit)

    def write(self, guest_path: str, text: str, mode: int | None = None) -> None:
        self.write_bytes(guest_path, text.encode("utf-8", errors="surrogateescape"), mode)

    def write_bytes(self, guest_path: str, data: bytes, mode: int | None = None) -> None:
        host = self.path(guest_path)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_bytes(data)
        if mode is not None:
            host.chmod(mode)

    def glob(self, guest_dir: str, pattern: str) -> list[str]:
        host = self.path(guest_dir)
        if not host.is_dir():
            return []
        base = "/" + guest_dir.strip("/")
        return sorted(f"{base}/{p.name}" for p in host.glob(pattern) if p.is_file() or p.is_symlink())

    def listdir(self, guest_dir: str) -> list[str]:
        host = self.path(guest_dir)
        return sorted(p.name for p in host.iterdir()) if host.is_dir() else []

    def mkdir(self, guest_path: str, mode: int = 0o755) -> None:
        self.path(guest_path).mkdir(mode=mode, parents=True, exist_ok=True)

    def remove(self, guest_path: str) -> bool:
        host = self._entry(guest_path)
        if host.is_symlink() or host.is_file():
            host.unlink()
            return True
        if host.is_dir():
            shutil.rmtree(host)
            return True
        return False

    def rename(self, guest_src: str, guest_dst: str) -> None:
        dst = self._entry(guest_dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        self._entry(guest_src).replace(dst)

    def backup(self, guest_path: str) -> None:
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

    def symlink(self, target: str, guest_path: str) -> None:
        host = self._entry(guest_path)
        host.parent.mkdir(parents=True, exist_ok=True)
        if host.is_symlink() or host.is_file():
            host.unlink()
        host.symlink_to(target)

    def readlink(self, guest_path: str) -> str | None:
        host = self._entry(guest_path)
        return os.readlink(host) if host.is_symlink() else None

    def chmod(self, guest_path: str, mode: int) -> None:
        self.path(guest_path).chmod(mode)

    def copy(self, guest_src: str, guest_dst: str) -> None:
        src = self.path(guest_src)
        dst = self.path(guest_dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        shutil.copymode(src, dst)

    def upload(self, host_file: Path, guest_path: str, mode: int | None = None) -> None:
        self.write_bytes(guest_path, Path(host_file).read_bytes(), mode)

    @contextlib.contextmanager
    def open_hive(self, guest_path: str, write: bool = False) -> Iterator[HiveHandle]:
        import hivex  # Debian's python3-hivex (tests only: the appliance parses real guests' hives)

        host = self.path(guest_path)
        if not host.is_file():
            raise OSError(f"no registry hive at {guest_path}")
        try:
            handle = _Hive(hivex)(str(host), write=write)
        except RuntimeError as exc:
            raise OSError(f"{guest_path} is not a readable registry hive: {exc}") from exc
        yield handle
