"""Per-source read slots: a Redis semaphore bounding parallel disk reads from one source host.

Each source has a sorted set ``coriolis:readslots:<queue_prefix><key>`` whose members are the task ids
holding a slot, scored by when their lease ends. A holder renews its lease from a background
thread while it reads; a holder that dies stops renewing and its slot frees itself once the
lease ends, so a killed worker never keeps a slot for long.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from coriolis.database.models import Migration
from providers.types import Exporter, VmInfo

log = logging.getLogger(__name__)
READ_STAGES = frozenset({"EXPORT_DISK", "REPLICATE_DISK", "REPLICATE_DISK_FINAL"})
_PREFIX = "coriolis:readslots:"
LEASE_SECONDS = 60.0

# KEYS[1]: the set; ARGV: now, lease end, limit, member. Returns {acquired (0/1), slots in use}.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  return {1, redis.call('ZCARD', KEYS[1])}
end
local used = redis.call('ZCARD', KEYS[1])
if used < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])) + 60)
  return {1, used + 1}
end
return {0, used}
"""


def source_key(migration: Migration, exporter: Exporter | None, vm: VmInfo) -> str:
    """The source host a migration reads from: the exporter's ``source_host_key(vm)``, else its endpoint or type."""
    key_of = getattr(exporter, "source_host_key", None)
    if callable(key_of):
        key = key_of(vm)
        if key:
            return str(key)
    kind = (migration.origin or {}).get("type", "unknown")
    return f"{kind}:{migration.origin_endpoint_id}" if migration.origin_endpoint_id else kind


def parse_limits(text: str) -> dict[str, int]:
    """``"vsphere:vc1:443/esx1=2, esx2=1"`` -> ``{"vsphere:vc1:443/esx1": 2, "esx2": 1}``.

    Raises:
        ValueError: an entry is not ``<key>=<n ≥ 1>``.
    """
    limits: dict[str, int] = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.strip().rpartition("=")
        if not sep or not key.strip() or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"max_parallel_reads_by_source: {entry.strip()!r} is not <source key>=<n ≥ 1>")
        limits[key.strip()] = int(value)
    return limits


def limit_for(key: str, default: int, overrides: str) -> int:
    """The read limit of source ``key``: an override for the key itself, else for its ESXi host (after
    ``/``), else for its endpoint (before ``/``), else ``default``. A malformed setting is logged and ignored."""
    try:
        limits = parse_limits(overrides)
    except ValueError as exc:
        log.error("%s; using max_parallel_reads_per_source", exc)
        return default
    endpoint, _, host = key.partition("/")
    for candidate in (key, host, endpoint):
        if candidate and candidate in limits:
            return limits[candidate]
    return default


class ReadSlot:
    """One task's claim on a read slot of a source; renewed until ``release``."""

    def __init__(
        self, client: redis.Redis, key: str, task_id: str, limit: int, namespace: str = "",
        lease: float = LEASE_SECONDS,
    ) -> None:
        self.client = client
        self.key = key
        self.redis_key = f"{_PREFIX}{namespace}{key}"
        self.task_id = task_id
        self.limit = limit
        self.lease = lease
        self.in_use = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_acquire(self) -> bool:
        """Take a slot (or renew ours); ``in_use`` says how many are taken afterwards."""
        now = time.time()
        acquired, used = self.client.eval(
            _ACQUIRE, 1, self.redis_key, now, now + self.lease, self.limit, self.task_id
        )
        self.in_use = int(used)
        if acquired and self._thread is None:
            self._thread = threading.Thread(target=self._renew, name=f"read-slot-{self.task_id}", daemon=True)
            self._thread.start()
        return bool(acquired)

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 4):
            try:
                self.client.zadd(self.redis_key, {self.task_id: time.time() + self.lease}, xx=True)
            except redis.RedisError as exc:  # Redis is back before the lease ends, or the slot frees itself
                log.warning("could not renew the read slot of %s on %s: %s", self.task_id, self.key, exc)

    def release(self) -> None:
        self._stop.set()
        try:
            self.client.zrem(self.redis_key, self.task_id)
        except redis.RedisError as exc:  # the lease ends by itself
            log.warning("could not release the read slot of %s on %s: %s", self.task_id, self.key, exc)


def in_use(client: redis.Redis, key: str, namespace: str = "") -> int:
    """How many unexpired slots of ``key`` are held."""
    return int(client.zcount(f"{_PREFIX}{namespace}{key}", time.time(), "+inf"))


def forget(client: redis.Redis, task_ids: list[str], namespace: str = "") -> None:
    """Free the slots of tasks known dead (their worker was lost) without waiting for the lease."""
    if not task_ids:
        return
    for redis_key in client.scan_iter(f"{_PREFIX}{namespace}*", count=500):
        client.zrem(redis_key, *task_ids)
