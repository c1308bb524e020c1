"""The SSRF guard on endpoint hosts: what is refused, what the policy lets through, no connections made.

Names used here resolve from /etc/hosts (``localhost``) or fail before any query (``a..b``), so
the tests send nothing over the network.
"""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from providers import netpolicy
from providers.netpolicy import HostNotAllowed, HostPolicy, check_host
from providers.stub.options import StubConnectionSchema

STRICT = HostPolicy()


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch):
    """Each test starts from the environment's policy, not one a test app configured."""
    monkeypatch.setattr(netpolicy, "_configured", None)
    monkeypatch.delenv(netpolicy.ALLOW_PRIVATE_ENV, raising=False)
    monkeypatch.delenv(netpolicy.ALLOWLIST_ENV, raising=False)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("localhost", "loopback"),
        ("2130706433", "loopback"),  # 127.0.0.1 as one number: the resolver accepts it
        ("0x7f.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
    ],
)
def test_refused_hosts_name_the_reason(host, reason):
    with pytest.raises(HostNotAllowed, match=reason):
        check_host(host, STRICT)


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.20", "172.16.4.4", "203.0.113.7", "fd12:3456::1", "8.8.8.8"])
def test_routable_and_private_network_hosts_pass(host):
    assert [str(a) for a in check_host(host, STRICT)] == [host]


@pytest.mark.parametrize(
    "host",
    ["", "a" * 254, "http://10.0.0.5", "10.0.0.5/24", "user@10.0.0.5", "10.0.0.5 ", "ho\x00st", "ho\nst", "a..b"],
)
def test_malformed_or_unresolvable_hosts_are_refused(host):
    with pytest.raises(HostNotAllowed):
        check_host(host, STRICT)


def test_allow_private_lifts_everything_but_metadata():
    policy = HostPolicy(allow_private=True)
    for host in ("127.0.0.1", "localhost", "fe80::1", "0.0.0.0", "224.0.0.1"):
        assert check_host(host, policy)
    with pytest.raises(HostNotAllowed, match="cloud metadata"):
        check_host("169.254.169.254", policy)


def test_allowlist_by_name_address_and_network():
    policy = HostPolicy(allowlist=netpolicy.parse_allowlist("LocalHost, 169.254.169.254 fe80::/64"))
    assert check_host("localhost", policy)
    assert check_host("169.254.169.254", policy)
    assert check_host("fe80::42", policy)
    with pytest.raises(HostNotAllowed, match="link-local"):
        check_host("fe80:1::42", policy)
    with pytest.raises(HostNotAllowed, match="loopback"):
        check_host("127.0.0.1", policy)


def test_policy_comes_from_configure_else_the_environment(monkeypatch):
    with pytest.raises(HostNotAllowed):
        check_host("127.0.0.1")
    monkeypatch.setenv(netpolicy.ALLOW_PRIVATE_ENV, "true")
    assert check_host("127.0.0.1")
    netpolicy.configure(False, "")
    with pytest.raises(HostNotAllowed):
        check_host("127.0.0.1")
    netpolicy.configure(False, "127.0.0.0/8")
    assert check_host("127.0.0.1")


def test_schema_validator_rejects_with_the_reason():
    assert StubConnectionSchema().load({"host": "10.1.2.3"})["host"] == "10.1.2.3"
    assert StubConnectionSchema().load({})["host"] is None
    with pytest.raises(ValidationError) as info:
        StubConnectionSchema().load({"host": "169.254.169.254"})
    assert "cloud metadata" in info.value.messages["host"][0]


def test_settings_carry_the_policy_from_the_environment():
    from coriolis.config import load_settings

    settings = load_settings({"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "true", "CORIOLIS_ENDPOINT_HOST_ALLOWLIST": "a, b"})
    assert settings.allow_private_endpoints is True and settings.endpoint_host_allowlist == "a, b"
    assert load_settings({"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "off"}).allow_private_endpoints is False
    assert load_settings({}).allow_private_endpoints is False
    with pytest.raises(ValueError, match="not a boolean"):
        load_settings({"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "maybe"})
