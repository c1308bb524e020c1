"""Disk files streamed to Glance: a progress-reporting, hashing reader, and the digests Glance records."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO

from providers.types import Cancelled, Reporter

CHUNK = 4 * 1024 * 1024
MIB = 1024 * 1024


class UploadReader:
    """A read-only file wrapper for an HTTP body: hashes what it hands out and reports progress.

    ``Cancelled`` from the reporter is raised from ``read`` (stopping the upload) and kept in
    ``cancelled``, in case a library between the reader and the caller wraps it.
    """

    def __init__(self, stream: IO[bytes], size: int, reporter: Reporter, message: str) -> None:
        self.stream = stream
        self.size = size
        self.reporter = reporter
        self.message = message
        self.done = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.cancelled: Cancelled | None = None
        self._step = max(size // 100, 8 * MIB)
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        if self.done >= self._next:
            self._report()
        data = self.stream.read(CHUNK if amount is None or amount < 0 else amount)
        self.done += len(data)
        self.md5.update(data)
        self.sha512.update(data)
        if not data or self.done >= self.size:
            self._report()
        return data

    def _report(self) -> None:
        self._next = self.done + self._step
        try:
            self.reporter.step(self.done, self.size, self.message)
        except Cancelled as exc:
            self.cancelled = exc
            raise


def file_digests(path: Path) -> tuple[str, str]:
    """The md5 and sha512 hex digests of a file's bytes (what Glance records as checksum and os_hash_value)."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


def file_size(path: Path) -> int:
    """The size of the file in bytes (what Glance stores: the image file, not the virtual disk)."""
    return os.stat(path).st_size
