"""Questions to the workers (ping, inspect), asked over a broker connection of their own.

Celery's remote control borrows a connection from the app's pool by default. One left idle for long is judged
stale by kombu's Redis transport in the middle of the round ("BRPOP got no reply for N seconds; dropping stale
connection") and the round's replies are lost: workers that answered would be taken for gone. A round is a
second or two of waiting, so a connect per round costs nothing worth keeping a pooled one for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def inspector(timeout: float, destination: list[str] | None = None) -> Iterator[Any]:
    """A ``celery.app.control.Inspect`` bound to a fresh connection, closed on leaving."""
    from coriolis_tasks.app import celery_app

    with celery_app.connection_for_write() as connection:
        yield celery_app.control.inspect(timeout=timeout, destination=destination, connection=connection)


def ping(destination: list[str], timeout: float) -> list[dict[str, Any]]:
    """The replies of the nodes in ``destination`` that answered a ping within ``timeout`` seconds."""
    from coriolis_tasks.app import celery_app

    with celery_app.connection_for_write() as connection:
        return celery_app.control.ping(destination=destination, timeout=timeout, connection=connection) or []
