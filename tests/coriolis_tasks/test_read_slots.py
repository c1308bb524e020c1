"""Read limits per source host: overrides by source key, ESXi host or endpoint, enforced on real Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from coriolis_tasks import read_slots

VC = "vsphere:vc1.example:443"


def test_overrides_match_the_key_then_its_host_then_its_endpoint():
    overrides = f"{VC}/esx-a=1, esx-b=2, {VC}=6"
    assert read_slots.limit_for(f"{VC}/esx-a", 4, overrides) == 1
    assert read_slots.limit_for(f"{VC}/esx-b", 4, overrides) == 2
    assert read_slots.limit_for(f"{VC}/esx-c", 4, overrides) == 6, "the vCenter's limit for its other hosts"
    assert read_slots.limit_for("vsphere:vc2.example:443/esx-c", 4, overrides) == 4
    assert read_slots.limit_for("stub:1234", 4, "") == 4


@pytest.mark.parametrize("bad", ["esx-a", "esx-a=0", "esx-a=x", "=3"])
def test_a_malformed_setting_falls_back_to_the_default(bad):
    with pytest.raises(ValueError):
        read_slots.parse_limits(bad)
    assert read_slots.limit_for("vsphere:vc:443/esx-a", 4, bad) == 4


def test_the_overridden_limit_is_what_redis_enforces():
    client = redis.Redis.from_url(os.environ["CORIOLIS_REDIS_URL"])
    namespace = f"test-{uuid.uuid4().hex[:8]}-"
    key = f"{VC}/esx-a"
    limit = read_slots.limit_for(key, 4, "esx-a=2")
    slots = [read_slots.ReadSlot(client, key, f"task-{n}", limit, namespace) for n in range(3)]
    try:
        assert [s.try_acquire() for s in slots] == [True, True, False]
        assert slots[2].in_use == 2 and read_slots.in_use(client, key, namespace) == 2
        other = read_slots.ReadSlot(client, f"{VC}/esx-b", "task-9", read_slots.limit_for(f"{VC}/esx-b", 4, "esx-a=2"),
                                    namespace)
        assert other.try_acquire(), "another ESXi host of the same vCenter has its own slots"
        other.release()
        slots[0].release()
        assert slots[2].try_acquire()
    finally:
        for slot in slots:
            slot.release()
