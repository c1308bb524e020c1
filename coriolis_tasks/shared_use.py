"""``SharedUse`` across worker nodes: a Redis set of holders per resource, changed under a Redis lock.

A holder is a disk id (a task of the run); a task redelivered after a crash joins again under the
same name, so a crashed holder never keeps a resource alive for ever once its task finishes. The
keys expire after ``ttl`` seconds in case a run is abandoned; its cleanup removes the resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

LOCK_SECONDS = 600  # longest a holder may take to create or remove the resource
WAIT_SECONDS = 900


class RedisSharedUse:
    def __init__(self, client: redis.Redis, prefix: str, ttl: int = 7 * 86400) -> None:
        self._client = client
        self._prefix = f"coriolis:{prefix}:shared:" if prefix else "coriolis:shared:"
        self._ttl = ttl

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        lock = self._client.lock(self._prefix + key + ":lock", timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        if not lock.acquire():
            raise TimeoutError(f"waited {WAIT_SECONDS} s for the shared resource {key}")
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:  # expired meanwhile: nothing left to release
                pass

    def join(self, key: str, holder: str) -> bool:
        name = self._prefix + key
        pipe = self._client.pipeline()
        pipe.scard(name)
        pipe.sadd(name, holder)
        pipe.expire(name, self._ttl)
        before, _, _ = pipe.execute()
        return before == 0

    def leave(self, key: str, holder: str) -> bool:
        name = self._prefix + key
        pipe = self._client.pipeline()
        pipe.srem(name, holder)
        pipe.scard(name)
        _, left = pipe.execute()
        return left == 0
