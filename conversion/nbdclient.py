"""libnbd handles on ``qemu-nbd`` exports: loading the bindings, connecting, and where an image holds data."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from types import ModuleType

from conversion.errors import ConversionError

# Debian ships libnbd's bindings for the system interpreter only (python3-libnbd)
SYSTEM_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
STATUS_SPAN = 1 << 30  # bytes one block-status request covers
STATE_ZERO = 2  # base:allocation: the range reads as zeros


def libnbd() -> ModuleType:
    """The ``nbd`` module (libnbd's Python bindings), from the venv or the system's dist-packages."""
    try:
        return importlib.import_module("nbd")
    except ImportError:
        pass
    if not os.path.isdir(SYSTEM_DIST_PACKAGES):
        raise ConversionError("libnbd's Python bindings are not installed (Debian: python3-libnbd)")
    sys.path.append(SYSTEM_DIST_PACKAGES)
    try:
        return importlib.import_module("nbd")
    except ImportError as exc:
        raise ConversionError(f"libnbd's Python bindings cannot be loaded: {exc}") from exc
    finally:
        sys.path.remove(SYSTEM_DIST_PACKAGES)


def connect(nbd: ModuleType, sock: str, patience: float = 10.0) -> object:
    """A handle connected to ``sock``; qemu-nbd binds its socket a moment before it listens, so an
    early refusal means "not yet" (a failed handle is dead: each attempt takes a new one)."""
    deadline = time.monotonic() + patience
    while True:
        h = nbd.NBD()
        h.add_meta_context("base:allocation")
        try:
            h.connect_unix(sock)
            return h
        except nbd.Error as exc:
            code = exc.args[1] if len(exc.args) > 1 else None  # exc.errno is the name ("ECONNREFUSED")
            if code != errno.ECONNREFUSED or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


class Connections:
    """One libnbd handle per thread (and per export), closed together."""

    def __init__(self, sockets: list[str]) -> None:
        self._sockets = sockets
        self._local = threading.local()
        self._all: list[object] = []
        self._lock = threading.Lock()

    def handles(self) -> list:
        found = getattr(self._local, "handles", None)
        if found is None:
            nbd = libnbd()
            found = []
            for sock in self._sockets:
                found.append(connect(nbd, sock))
            self._local.handles = found
            with self._lock:
                self._all.extend(found)
        return found

    def of(self, export: int) -> list:
        """The handles of every thread to export number ``export``."""
        return self._all[export::len(self._sockets)]

    def close(self) -> None:
        for h in self._all:
            with contextlib.suppress(Exception):
                h.shutdown()  # libnbd 1.14 handles have no close(): the socket goes with the handle
        self._all.clear()


def data_runs(h: object, size: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` byte ranges, chunk-aligned and in order, that may hold non-zero bytes."""
    run: list[int] | None = None
    offset = 0
    found: list[tuple[int, int, int]] = []

    def collect(_ctx: str, at: int, entries: list[int], _err: object) -> int:
        pos = at
        for i in range(0, len(entries), 2):
            found.append((pos, entries[i], entries[i + 1]))
            pos += entries[i]
        return 0

    while offset < size:
        found.clear()
        h.block_status(min(STATUS_SPAN, size - offset), offset, collect)  # type: ignore[attr-defined]
        if not found:
            raise ConversionError(f"NBD block status made no progress at offset {offset}")
        for at, length, flags in found:
            length = min(length, size - at)
            if length <= 0:
                continue
            if not flags & STATE_ZERO:
                start = at // chunk_size * chunk_size
                end = min(size, -(-(at + length) // chunk_size) * chunk_size)
                if run is not None and start <= run[1]:
                    run[1] = max(run[1], end)
                else:
                    if run is not None:
                        yield run[0], run[1]
                    run = [start, end]
            offset = at + length
    if run is not None:
        yield run[0], run[1]


def export_size(sock: str) -> int:
    h = connect(libnbd(), sock)
    try:
        return int(h.get_size())  # type: ignore[attr-defined]
    finally:
        with contextlib.suppress(Exception):
            h.shutdown()
