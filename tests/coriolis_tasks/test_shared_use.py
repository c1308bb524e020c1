"""Shared use of a source resource across tasks, through real Redis (and the in-process version)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
import redis

from coriolis_tasks.shared_use import RedisSharedUse
from providers.shared_use import LocalSharedUse


@pytest.fixture(params=["redis", "local"])
def shared(request):
    if request.param == "local":
        yield LocalSharedUse()
        return
    client = redis.Redis.from_url(os.environ["CORIOLIS_REDIS_URL"])
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield RedisSharedUse(client, prefix)
    for key in client.scan_iter(f"coriolis:{prefix}:*"):
        client.delete(key)


def test_first_joins_and_last_leaves(shared):
    with shared.locked("snap"):
        assert shared.join("snap", "disk-1") is True
        assert shared.join("snap", "disk-2") is False
        assert shared.join("snap", "disk-1") is False  # a redelivery rejoins as itself
    with shared.locked("snap"):
        assert shared.leave("snap", "disk-1") is False
        assert shared.leave("snap", "disk-2") is True
        assert shared.leave("snap", "disk-2") is True  # repeatable
    with shared.locked("snap"):
        assert shared.join("snap", "disk-3") is True  # a new round starts fresh


def test_exactly_one_first_and_one_last_among_concurrent_holders(shared):
    firsts, lasts, barrier = [], [], threading.Barrier(8)

    def holder(n: int) -> None:
        barrier.wait()
        with shared.locked("res"):
            if shared.join("res", f"h{n}"):
                firsts.append(n)
        barrier.wait()  # everyone joined before anyone leaves
        with shared.locked("res"):
            if shared.leave("res", f"h{n}"):
                lasts.append(n)

    threads = [threading.Thread(target=holder, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(firsts) == 1 and len(lasts) == 1
