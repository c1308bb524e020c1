"""Who is using a source-side resource that several tasks of one run share.

All the disks of an instance are exported by tasks of their own, side by side, possibly on
several nodes, yet they should read one snapshot: the disks are then frozen at one instant, and
no task removes the snapshot another one still reads. A provider asks ``ctx.shared`` whether it
is the first user of a resource (then it creates it) and whether it is the last (then it removes
it). Workers coordinate through Redis (``coriolis_tasks/shared_use.py``); this in-process
version serves unit tests and single-process use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, runtime_checkable


@runtime_checkable
class SharedUse(Protocol):
    """Holders of named resources, changed under a lock per resource."""

    def locked(self, key: str) -> AbstractContextManager[None]:
        """Exclusive access to ``key``'s holders (and to creating or removing the resource)."""

    def join(self, key: str, holder: str) -> bool:
        """Add ``holder``; whether nobody held ``key`` before. Call under ``locked``; repeatable."""

    def leave(self, key: str, holder: str) -> bool:
        """Remove ``holder``; whether nobody holds ``key`` now. Call under ``locked``; repeatable."""


class LocalSharedUse:
    """``SharedUse`` for the threads of one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._holders: dict[str, set[str]] = {}

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def join(self, key: str, holder: str) -> bool:
        holders = self._holders.setdefault(key, set())
        first = not holders
        holders.add(holder)
        return first

    def leave(self, key: str, holder: str) -> bool:
        holders = self._holders.get(key, set())
        holders.discard(holder)
        if not holders:
            self._holders.pop(key, None)
        return not holders


LOCAL = LocalSharedUse()
