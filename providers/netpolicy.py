"""Which hosts an endpoint may name: a guard against making the service reach its own network (SSRF).

A provider's connection schema validates its host field with ``AllowedHost()``; its client calls
``check_host`` again just before connecting (a name may resolve elsewhere by then). A host is
refused when any address it resolves to is loopback, link-local, unspecified, multicast or a cloud
metadata address — unless the policy allows it. Private networks (10/8, 172.16/12, 192.168/16,
fc00::/7) are allowed: that is where on-premises hypervisors live.

The policy comes from ``configure`` (the API and the workers call it at start with their settings
``allow_private_endpoints`` and ``endpoint_host_allowlist``); until then from the environment
variables of those settings. ``allow_private_endpoints`` lifts every refusal except the metadata
addresses, which only the allowlist can open.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from marshmallow import ValidationError, validate

ALLOW_PRIVATE_ENV = "CORIOLIS_ALLOW_PRIVATE_ENDPOINTS"
ALLOWLIST_ENV = "CORIOLIS_ENDPOINT_HOST_ALLOWLIST"
MAX_HOST_LENGTH = 253
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "fd00:ec2::23")
)
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class HostNotAllowed(ValueError):
    """The host is malformed, does not resolve, or resolves to an address the policy refuses."""


@dataclass(frozen=True)
class HostPolicy:
    """What hosts endpoints may name.

    Args:
        allow_private: accept loopback, link-local, unspecified and multicast addresses.
        allowlist: host names (exact, any case), addresses or networks (CIDR) always accepted.
    """

    allow_private: bool = False
    allowlist: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(e.lower().rstrip(".") for e in self.allowlist if _network(e) is None)

    @property
    def networks(self) -> tuple[IpNetwork, ...]:
        return tuple(n for n in map(_network, self.allowlist) if n is not None)


_configured: HostPolicy | None = None


def _network(entry: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def parse_allowlist(text: str | Iterable[str]) -> tuple[str, ...]:
    """Allowlist entries from a comma or space separated string (or any iterable of them)."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return tuple(i.strip() for i in items if i.strip())


def configure(allow_private: bool, allowlist: str | Iterable[str] = ()) -> None:
    """Set the process-wide policy (called at start by the API and the workers)."""
    global _configured
    _configured = HostPolicy(bool(allow_private), parse_allowlist(allowlist))


def current_policy() -> HostPolicy:
    """The configured policy, or the one the environment describes."""
    if _configured is not None:
        return _configured
    allow = os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    return HostPolicy(allow, parse_allowlist(os.environ.get(ALLOWLIST_ENV, "")))


def resolve(host: str) -> list[IpAddress]:
    """The addresses ``host`` stands for: itself when it is an address, else what the resolver says.

    Only name resolution happens (``getaddrinfo``); nothing is connected to.
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise HostNotAllowed(f"host {host!r} does not resolve") from exc
    out: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    if not out:
        raise HostNotAllowed(f"host {host!r} does not resolve")
    return out


def refusal(address: IpAddress) -> str | None:
    """Why ``address`` is refused by default (``None``: it is not)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    this_network = address.version == 4 and address in ipaddress.ip_network("0.0.0.0/8")
    for kind, flag in (
        ("unspecified", address.is_unspecified or this_network),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
    ):
        if flag:
            return f"a {kind} address"
    return None


def _bare(host: str) -> str:
    """``host`` checked for shape: a name or an address, IPv6 optionally in brackets."""
    if not isinstance(host, str) or not host or len(host) > MAX_HOST_LENGTH:
        raise HostNotAllowed(f"host must be a name or an address of 1 to {MAX_HOST_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() or c in "/@?#\\" for c in host):
        raise HostNotAllowed(f"host {host!r} is not a bare name or address (no scheme, path, port or spaces)")
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def check_host(host: str, policy: HostPolicy | None = None) -> list[IpAddress]:
    """Refuse ``host`` (``HostNotAllowed``) unless every address it resolves to is acceptable.

    Args:
        host: a DNS name or an IP address, as given in an endpoint's connection info.
        policy: the policy to apply; default ``current_policy()``.

    Returns:
        the addresses the host resolved to, for the caller to connect to.
    """
    policy = policy or current_policy()
    name = _bare(host)
    if name.lower().rstrip(".") in policy.names:
        return resolve(name)
    addresses = resolve(name)
    for address in addresses:
        if any(address in network for network in policy.networks):
            continue
        reason = refusal(address)
        if reason is None or (policy.allow_private and reason != "a cloud metadata address"):
            continue
        shown = f"{host!r}" if str(address) == name else f"{host!r} (resolves to {address})"
        raise HostNotAllowed(
            f"host {shown} is {reason}; endpoints may not name it unless allowed "
            "(settings allow_private_endpoints or endpoint_host_allowlist)"
        )
    return addresses


class AllowedHost(validate.Validator):
    """A marshmallow validator: the field's value must pass ``check_host``."""

    def __call__(self, value: str) -> str:
        try:
            check_host(value)
        except HostNotAllowed as exc:
            raise ValidationError(str(exc)) from None
        return value
