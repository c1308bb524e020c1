"""Which workers answer for which queues: the readiness check of the API and ``coriolis worker-health``."""

from __future__ import annotations

from collections.abc import Iterable

from coriolis.config import get_settings
from coriolis_tasks.broadcast import inspector


def queue_consumers(
    queues: Iterable[str], timeout: float = 1.0, destination: list[str] | None = None
) -> dict[str, list[str]]:
    """For each pool queue (unprefixed name), the workers consuming it that answered within ``timeout``.

    Args:
        queues: pool names such as ``export``; ``queue_prefix`` is added here.
        timeout: seconds to wait for replies (the call always waits this long).
        destination: ask only these workers (``name@host``); default every worker on the broker.
    """
    settings = get_settings()
    wanted = {settings.queue(q): q for q in queues}
    found: dict[str, list[str]] = {q: [] for q in wanted.values()}
    with inspector(timeout, destination) as inspect:
        replies = inspect.active_queues() or {}
    for worker, consumed in sorted(replies.items()):
        for queue in consumed or []:
            pool = wanted.get(queue.get("name", ""))
            if pool is not None:
                found[pool].append(worker)
    return found
