"""GuestTree over a libguestfs handle: every path is resolved and touched inside the appliance."""

from __future__ import annotations

import fnmatch
import os
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Any

from morphing.guestfs_hive import GuestfsHive, open_guest_hive
from morphing.tree import BACKUP_DIR

# Above this, file contents go through a host temp file (the protocol caps a message at 4 MiB).
_INLINE_MAX = 2 << 20


def _abs(guest_path: str) -> str:
    return "/" + guest_path.strip("/") if guest_path.strip("/") else "/"


def _parent(guest_path: str) -> str:
    return str(PurePosixPath(_abs(guest_path)).parent)


class GuestfsTree:
    """A guest's mounted filesystems as libguestfs sees them (symlinks resolve inside the guest).

    libguestfs runs each call in its daemon chrooted into the guest root *inside the appliance*,
    so an absolute symlink or ``..`` can only reach the guest's (or the appliance's) files, never
    this host's. Failures are raised as ``OSError``, as a plain directory would.
    """

    def __init__(self, handle: Any, scratch: Path) -> None:
        self.g = handle
        self.scratch = scratch

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.g, name)(*args, **kwargs)
        except RuntimeError as exc:
            paths = [a for a in args if isinstance(a, str) and a.startswith("/")]
            raise OSError(f"guest {name} {' '.join(paths)}: {exc}") from exc

    def _quiet(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A query where an error (a missing parent, a dangling link) just means "no"."""
        try:
            return getattr(self.g, name)(*args, **kwargs)
        except RuntimeError:
            return None

    def resolve(self, guest_path: str) -> str:
        """``guest_path`` with every symlink followed as the guest would (dangling ones too), never out of /."""
        parts = [p for p in PurePosixPath(_abs(guest_path)).parts if p not in ("/", ".")]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            here = "/" + "/".join([*resolved, part])
            if self.is_symlink(here):
                hops += 1
                if hops > 40:
                    raise OSError(f"too many symlinks in guest path {guest_path}")
                target = self._call("readlink", here)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in PurePosixPath(target).parts if p not in ("/", ".")] + parts
                continue
            resolved.append(part)
        return "/" + "/".join(resolved)

    def exists(self, guest_path: str) -> bool:
        path = _abs(guest_path)
        if not self._quiet("exists", path):
            return False
        if not self.is_symlink(path):
            return True
        resolved = self.resolve(path)  # a dangling symlink does not exist, as os.path.exists says
        return resolved != path and bool(self._quiet("exists", resolved)) and not self.is_symlink(resolved)

    def is_dir(self, guest_path: str) -> bool:
        return bool(self._quiet("is_dir", _abs(guest_path), followsymlinks=True))

    def is_file(self, guest_path: str) -> bool:
        return bool(self._quiet("is_file", _abs(guest_path), followsymlinks=True))

    def is_symlink(self, guest_path: str) -> bool:
        return bool(self._quiet("is_symlink", _abs(guest_path)))

    def read(self, guest_path: str) -> str | None:
        data = self.read_bytes(guest_path)
        return None if data is None else data.decode("utf-8", errors="surrogateescape")

    def read_bytes(self, guest_path: str, limit: int | None = None) -> bytes | None:
        path = _abs(guest_path)
        if not self.is_file(path):
            return None
        size = self._call("filesize", path)
        if limit is not None and limit < size:
            return self._pread(path, limit)
        if size <= _INLINE_MAX:
            return self._call("read_file", path)
        with tempfile.NamedTemporaryFile(dir=self.scratch, prefix="download-") as tmp:
            self._call("download", path, tmp.name)
            return Path(tmp.name).read_bytes()

    def _pread(self, path: str, limit: int) -> bytes:
        chunks, offset = [], 0
        while offset < limit:
            chunk = self._call("pread", path, min(limit - offset, 1 << 20), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def write(self, guest_path: str, text: str, mode: int | None = None) -> None:
        self.write_bytes(guest_path, text.encode("utf-8", errors="surrogateescape"), mode)

    def write_bytes(self, guest_path: str, data: bytes, mode: int | None = None) -> None:
        path = self.resolve(guest_path)  # a dangling symlink's target is created, as in a plain tree
        self._call("mkdir_p", _parent(path))
        if len(data) <= _INLINE_MAX:
            self._call("write", path, data)
        else:
            with tempfile.NamedTemporaryFile(dir=self.scratch, prefix="upload-") as tmp:
                tmp.write(data)
                tmp.flush()
                self._call("upload", tmp.name, path)
        if mode is not None:
            self._call("chmod", mode, path)

    def glob(self, guest_dir: str, pattern: str) -> list[str]:
        base = _abs(guest_dir).rstrip("/")
        found = []
        for name in self.listdir(guest_dir):
            if fnmatch.fnmatchcase(name, pattern):
                path = f"{base}/{name}"
                if self.is_file(path) or self.is_symlink(path):
                    found.append(path)
        return sorted(found)

    def listdir(self, guest_dir: str) -> list[str]:
        path = _abs(guest_dir)
        return sorted(self._call("ls", path)) if self.is_dir(path) else []

    def mkdir(self, guest_path: str, mode: int = 0o755) -> None:
        path = _abs(guest_path)
        if not self.is_dir(path):
            self._call("mkdir_p", path)
            self._call("chmod", mode, path)

    def remove(self, guest_path: str) -> bool:
        path = _abs(guest_path)
        if self.is_symlink(path) or self._quiet("is_file", path):
            self._call("rm", path)
            return True
        if self._quiet("is_dir", path):
            self._call("rm_rf", path)
            return True
        return False

    def rename(self, guest_src: str, guest_dst: str) -> None:
        self._call("mkdir_p", _parent(guest_dst))
        self._call("rename", _abs(guest_src), _abs(guest_dst))

    def backup(self, guest_path: str) -> None:
        path = _abs(guest_path)
        if not (self.exists(path) or self.is_symlink(path)):
            return
        real = self._call("realpath", path) if self.exists(path) else path
        dest = f"/{BACKUP_DIR}/{path.strip('/')}"
        if self.exists(dest) or self.is_symlink(dest):
            self._call("rm_rf", dest)
        self._call("mkdir_p", _parent(dest))
        self._call("mv", real, dest)

    def symlink(self, target: str, guest_path: str) -> None:
        path = _abs(guest_path)
        self._call("mkdir_p", _parent(path))
        if self.is_symlink(path) or self._quiet("is_file", path):
            self._call("rm", path)
        self._call("ln_s", target, path)

    def readlink(self, guest_path: str) -> str | None:
        path = _abs(guest_path)
        return self._call("readlink", path) if self.is_symlink(path) else None

    def chmod(self, guest_path: str, mode: int) -> None:
        self._call("chmod", mode, _abs(guest_path))

    def copy(self, guest_src: str, guest_dst: str) -> None:
        """Copy a guest file (contents and mode) inside the appliance, parents created."""
        src, dst = _abs(guest_src), _abs(guest_dst)
        self._call("mkdir_p", _parent(dst))
        self._call("cp", src, dst)
        mode = self._call("statns", src)["st_mode"] & 0o7777
        self._quiet("chmod", mode, dst)  # a FAT ESP has no modes

    def upload(self, host_file: Path, guest_path: str, mode: int | None = None) -> None:
        path = _abs(guest_path)
        self._call("mkdir_p", _parent(path))
        self._call("upload", os.fspath(host_file), path)
        if mode is not None:
            self._call("chmod", mode, path)

    def open_hive(self, guest_path: str, write: bool = False) -> AbstractContextManager[GuestfsHive]:
        """The hive, parsed by the appliance's hivex (never on this host)."""
        return open_guest_hive(self.g, _abs(guest_path), write)
