"""The instance-type catalog kept per endpoint, region and key: listed once an hour, not once a request."""

from __future__ import annotations

import pytest

from providers.aws import catalog
from providers.aws.client import Aws
from providers.aws.options import Connection


@pytest.fixture(autouse=True)
def empty_catalog():
    catalog.forget()
    yield
    catalog.forget()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_catalog_is_served_until_it_is_an_hour_old():
    clock, fetched = Clock(), []

    def fetch():
        fetched.append(clock.now)
        return [{"InstanceType": f"t{len(fetched)}.micro"}]

    first = catalog.instance_types(("", "us-east-1", "AKIA1"), fetch, clock)
    clock.now += catalog.TTL - 1
    assert catalog.instance_types(("", "us-east-1", "AKIA1"), fetch, clock) is first
    assert catalog.instance_types(("", "eu-west-1", "AKIA1"), fetch, clock) == [{"InstanceType": "t2.micro"}]
    clock.now += 1
    assert catalog.instance_types(("", "us-east-1", "AKIA1"), fetch, clock) == [{"InstanceType": "t3.micro"}]
    assert len(fetched) == 3


def test_a_failed_listing_is_not_kept():
    calls = []

    def failing():
        calls.append(1)
        raise RuntimeError("throttled")

    with pytest.raises(RuntimeError):
        catalog.instance_types(("", "us-east-1", "AKIA1"), failing)
    assert catalog.instance_types(("", "us-east-1", "AKIA1"), lambda: [{"InstanceType": "m5.large"}]) == [
        {"InstanceType": "m5.large"}]
    assert calls == [1]


def test_the_oldest_catalog_makes_room():
    clock = Clock()
    for n in range(catalog.MAX_KEPT + 1):
        clock.now += 1
        catalog.instance_types(("", f"r{n}", "k"), lambda n=n: [{"InstanceType": str(n)}], clock)
    refetched = []
    assert catalog.instance_types(("", "r1", "k"), lambda: [{"InstanceType": "1"}], clock) == [{"InstanceType": "1"}]
    catalog.instance_types(("", "r0", "k"), lambda: refetched.append(1) or [{"InstanceType": "0"}], clock)
    assert refetched == [1]  # r0, the oldest, was dropped for the newest


def test_the_region_is_listed_once_for_two_clients(account):
    info = account.moto.connection_info()
    calls: list[str] = []
    clients = [Aws(Connection(**info)) for _ in range(2)]
    for aws in clients:
        aws.ec2.meta.events.register("before-call.ec2.DescribeInstanceTypes",
                                     lambda model, **kw: calls.append(model.name))
    first, second = (aws.instance_types() for aws in clients)
    assert first is second and {"m5.large", "t3.micro"} <= {t["InstanceType"] for t in first}
    pages = len(calls)
    assert pages >= 1
    clients[0].instance_types()
    assert len(calls) == pages
