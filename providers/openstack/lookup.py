"""The choices of the openstack destination's options, looked up in the project (``OptionLookup``)."""

from __future__ import annotations

from typing import Any

from providers.abilities import named, run_lookups
from providers.openstack.client import Cloud


def destination_options(cloud: Cloud, names: frozenset[str] | None) -> list[dict[str, Any]]:
    """Flavors, key pairs, security groups (``{"id", "name"}``), volume types and availability zones of the
    project, those in ``names`` only when given."""
    return run_lookups({
        "flavor_name": lambda: sorted({f.name for f in cloud.flavors()}),
        "key_name": lambda: sorted(cloud.keypair_names()),
        "security_groups": lambda: named(cloud.security_groups()),
        "volume_type": lambda: sorted({t.name for t in cloud.volume_types()}),
        "availability_zone": lambda: sorted(cloud.availability_zones()),
    }, names)
