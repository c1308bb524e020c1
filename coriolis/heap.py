"""Garbage-collector settings for long-lived service processes (API workers, Celery pools)."""

from __future__ import annotations

import gc

# A poll of one run allocates tens of thousands of short-lived objects: with the default 700 the
# young generation is collected dozens of times per request and every few requests a full
# collection walks the whole heap (~130k objects after the imports, 30-70 ms of CPU on this host).
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Move everything alive now (imported modules, the app, its schemas) out of the collector's sight.

    Call once a process has loaded its code (after a fork, in the child): later full collections
    then walk only the objects made since, and the objects frozen are never touched again, so
    copy-on-write pages shared with the parent stay shared.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
