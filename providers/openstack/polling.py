"""Waiting for cloud resources: until ready (servers ACTIVE, volumes available), or until gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from providers.types import ProviderError, Reporter

T = TypeVar("T")


def wait_until(fetch: Callable[[], T | None], ready: Callable[[T], bool], failed: Callable[[T], bool],
               timeout: float, reporter: Reporter, what: str) -> T:
    """Poll ``fetch`` until ``ready`` (at most ``timeout`` s); ``ProviderError`` on failure, timeout, or when gone.

    Args:
        fetch: the resource's current state, None once it is gone.
        ready: whether it is done.
        failed: whether it failed (its ``fault`` or ``status`` is reported).
        timeout: seconds.
        reporter: progress while waiting; ``Cancelled`` propagates.
        what: names the resource in messages.
    """
    start = time.monotonic()
    delay = 0.2
    while True:
        item = fetch()
        if item is None:
            raise ProviderError(f"{what} disappeared")
        if ready(item):
            return item
        if failed(item):
            detail = getattr(item, "fault", "") or getattr(item, "status", "")
            raise ProviderError(f"{what} failed: {detail}")
        waited = time.monotonic() - start
        if waited > timeout:
            raise ProviderError(f"{what} not ready after {timeout:g} s (status {getattr(item, 'status', '?')})")
        reporter.step(int(waited), int(timeout), f"waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def wait_gone(fetch: Callable[[], object | None], timeout: float, what: str) -> None:
    """Poll ``fetch`` until it returns None (at most ``timeout`` s, then ``ProviderError``)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while fetch() is not None:
        if time.monotonic() > deadline:
            raise ProviderError(f"{what} still exists {timeout:g} s after delete")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
