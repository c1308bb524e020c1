"""Choosing a Nova flavor: by name, or the smallest one that fits the source's CPUs, memory and disk."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from providers.types import ProviderError

GIB = 1024**3


@dataclass(frozen=True)
class Flavor:
    """What the destination needs to know about a flavor (a plain copy of the SDK object)."""

    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


def disk_gb(size_bytes: int) -> int:
    """Whole GiB needed to hold ``size_bytes`` (at least 1)."""
    return max(1, -(-size_bytes // GIB))


def by_name(flavors: Iterable[Flavor], name: str) -> Flavor:
    """The flavor called ``name`` (or with that id); ``ProviderError`` when there is none."""
    flavors = list(flavors)
    for flavor in flavors:
        if flavor.name == name or flavor.id == name:
            return flavor
    known = ", ".join(sorted(f.name for f in flavors)) or "none"
    raise ProviderError(f"flavor {name!r} does not exist (known: {known})")


def best_fit(flavors: Iterable[Flavor], vcpus: int, ram_mb: int, root_gb: int | None) -> Flavor:
    """The smallest flavor with at least ``vcpus``, ``ram_mb`` and ``root_gb`` (None: disk not considered).

    Smallest means the least memory, then the fewest vCPUs, then the smallest disk: memory is what
    clouds bill and pack by. A flavor with a 0 GB disk (size taken from the image) fits any disk.

    Args:
        flavors: the flavors the project can use.
        vcpus: the source's vCPUs.
        ram_mb: the source's memory.
        root_gb: the boot disk's size in GiB, or None when booting from a volume.
    """
    fitting = [
        f for f in flavors
        if f.vcpus >= vcpus and f.ram_mb >= ram_mb
        and (root_gb is None or f.disk_gb == 0 or f.disk_gb >= root_gb)
    ]
    if not fitting:
        disk = f", {root_gb} GB disk" if root_gb is not None else ""
        raise ProviderError(f"no flavor fits {vcpus} vCPUs, {ram_mb} MB memory{disk}; set flavor_name")
    return min(fitting, key=lambda f: (f.ram_mb, f.vcpus, f.disk_gb or root_gb or 0, f.name))
