"""An image stored as a byte range of a bigger file (an OVA's tar member), named so qemu reads it in place.

qemu's ``raw`` driver with ``offset`` and ``size`` over the container file gives the format driver
(``vmdk``) a file that starts and ends where the member does: nothing is copied out, and no read
can leave the range. The format is never part of the name: qemu tools get it with ``-f``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.errors import ConversionError

JSON_PREFIX = "json:"


@dataclass(frozen=True)
class Member:
    """The bytes ``[offset, offset + length)`` of a container file that hold one image."""

    offset: int
    length: int

    def __post_init__(self) -> None:
        if self.offset < 0 or self.length <= 0:
            raise ConversionError(f"not a byte range: offset {self.offset}, length {self.length}")

    def file_node(self, container: str | os.PathLike[str]) -> dict[str, Any]:
        """The qemu block node reading this range of ``container`` (resolved: links followed once, here)."""
        return {
            "driver": "raw", "offset": self.offset, "size": self.length,
            "file": {"driver": "file", "filename": os.path.realpath(container)},
        }


def qemu_name(path: str | os.PathLike[str], member: Member | None = None) -> str:
    """The name qemu tools open: the file itself, or a ``json:`` name reading only ``member`` of it."""
    if member is None:
        return os.fspath(path)
    return JSON_PREFIX + json.dumps({"file": member.file_node(path)}, separators=(",", ":"))


def reads_only_itself(extent_files: tuple[str, ...], path: str | os.PathLike[str], member: Member) -> bool:
    """Whether a VMDK opened as ``member`` of ``path`` keeps its data in that range alone.

    qemu names the one extent of a sparse VMDK after the node it was opened from; a descriptor
    naming any other file (an extent beside the archive, a device) is not the member's own data.
    """
    if len(extent_files) != 1 or not extent_files[0].startswith(JSON_PREFIX):
        return False
    try:
        node = json.loads(extent_files[0][len(JSON_PREFIX):])
    except ValueError:
        return False
    return _same_node(node, member.file_node(path))


def _same_node(found: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(found, dict) or set(found) != set(wanted):
        return False
    for key, value in wanted.items():
        if isinstance(value, dict):
            if not _same_node(found[key], value):
                return False
        elif str(found[key]) != str(value):  # qemu prints numbers in options as numbers or strings
            return False
    return True


READ_SIZE = 8 << 20


@dataclass
class RangeDigest:
    """A digest of a member's raw bytes (an OVA manifest's), taken by a thread beside the conversion.

    Started before the conversion reads the member, so both read it from storage once between them
    (whichever reads a range first leaves it in the page cache for the other) and the hashing runs on
    another core. ``result()`` waits for it: the hex digest, or the error that stopped it.
    """

    path: str
    member: Member
    algorithm: str
    bytes_read: int = 0
    storage_bytes_read: int = 0
    _digest: str | None = None
    _error: BaseException | None = None

    def __post_init__(self) -> None:
        hashlib.new(self.algorithm)  # an unknown algorithm fails here, not in the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="member-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            before = _storage_reads()
            hasher = hashlib.new(self.algorithm)
            with open(self.path, "rb") as f:
                while self.bytes_read < self.member.length and not self._stop.is_set():
                    take = min(READ_SIZE, self.member.length - self.bytes_read)
                    chunk = os.pread(f.fileno(), take, self.member.offset + self.bytes_read)
                    if not chunk:
                        raise ConversionError(f"{self.path} ends {self.member.length - self.bytes_read} bytes "
                                              "before the end of its member")
                    hasher.update(chunk)
                    self.bytes_read += len(chunk)
            self.storage_bytes_read = _storage_reads() - before
            self._digest = hasher.hexdigest()
        except BaseException as exc:  # handed to result()
            self._error = exc

    def stop(self) -> None:
        """Stop reading (the conversion failed) and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._digest is None:
            raise ConversionError(f"{self.path}: the member digest was stopped")
        return self._digest


def _storage_reads() -> int:
    """Bytes this thread has had the storage read so far (not the page cache): its ``read_bytes``."""
    try:
        for line in Path("/proc/thread-self/io").read_text().splitlines():
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
