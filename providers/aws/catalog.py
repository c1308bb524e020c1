"""The region's instance-type catalog, kept in the process for a while.

``describe_instance_types`` pages through ~1,400 types (a dozen calls); the option lookup and the
destination's best-fit pick each need all of them, and the catalog changes a few times a year. One
copy is kept per endpoint, region and access key for ``TTL`` seconds; a failed listing is not kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

TTL = 3600.0
MAX_KEPT = 64

_lock = threading.Lock()
_kept: dict[tuple[str, ...], tuple[float, list[dict[str, Any]]]] = {}


def instance_types(key: tuple[str, ...], fetch: Callable[[], list[dict[str, Any]]],
                   clock: Callable[[], float] = time.monotonic) -> list[dict[str, Any]]:
    """The catalog of ``key``: the kept copy while younger than ``TTL``, else ``fetch()`` kept anew."""
    now = clock()
    with _lock:
        hit = _kept.get(key)
        if hit is not None and now - hit[0] < TTL:
            return hit[1]
    types = fetch()  # outside the lock: two first callers may both fetch, neither waits on the other
    with _lock:
        if len(_kept) >= MAX_KEPT and key not in _kept:
            del _kept[min(_kept, key=lambda k: _kept[k][0])]
        _kept[key] = (now, types)
    return types


def forget() -> None:
    """Drop every kept catalog."""
    with _lock:
        _kept.clear()
