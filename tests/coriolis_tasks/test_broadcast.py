"""Rounds of questions to the workers hear every worker, whatever state the app's pooled connections are in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import kombu.transport.redis as kombu_redis
import pytest

from coriolis_tasks import broadcast
from coriolis_tasks.pipeline import QUEUES
from tests.conftest import RUN_ID


def _ours(nodes) -> set[str]:
    return {node for node in nodes if node.split("@")[0].endswith(RUN_ID)}


@pytest.fixture()
def stale_pool(workers) -> Iterator[Callable[[], None]]:
    """Puts the app's pooled connection in the state a CI run logged ("Redis BRPOP got no reply for 1214
    seconds") on demand, and mends it afterwards: other tests share the pool.

    A round ends with a BRPOP still outstanding on its channel. Here its reply is read away and the BRPOP dated
    twenty minutes back, so kombu's poller judges the connection stale in the next round over it and drops it,
    with the replies that round was waiting for (such a round hears nobody).
    """
    from coriolis_tasks.app import celery_app

    broken = []

    def break_it() -> None:
        time.sleep(1.5)  # the outstanding BRPOP's server-side timeout (1 s) passes: its empty reply is waiting
        with celery_app.pool.acquire(block=True) as connection:
            pending = [channel for channel in connection.transport.cycle._channels if channel._in_poll]
            assert pending, "no BRPOP outstanding after a round: kombu changed, this test must be revisited"
            for channel in pending:
                channel._in_poll.read_response()
                channel._brpop_sent_at = kombu_redis.monotonic() - 1200
                broken.append(channel)

    yield break_it
    for channel in broken:  # nothing outstanding any more: the next round sends a BRPOP of its own
        channel._in_poll = channel._brpop_sent_at = None
    assert celery_app.control.ping(timeout=1.0), "the pooled connection was not mended"


def test_inspect_hears_every_worker_after_the_pooled_connection_went_stale(stale_pool):
    from coriolis_tasks.app import celery_app

    expected = _ours(celery_app.control.inspect(timeout=1.0).active_queues() or {})
    assert len(expected) >= len(QUEUES), expected
    stale_pool()
    with broadcast.inspector(1.0) as inspect:
        replies = inspect.active_queues() or {}
    assert _ours(replies) == expected


def test_ping_hears_every_worker_after_the_pooled_connection_went_stale(stale_pool):
    from coriolis_tasks.app import celery_app

    nodes = sorted(_ours(name for reply in celery_app.control.ping(timeout=1.0) or [] for name in reply))
    assert len(nodes) >= len(QUEUES), nodes
    stale_pool()
    replies = broadcast.ping(nodes, 1.0)
    assert sorted(name for reply in replies for name in reply) == nodes
    assert all(reply[name] == {"ok": "pong"} for reply in replies for name in reply)
