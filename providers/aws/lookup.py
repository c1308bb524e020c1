"""The choices of the aws destination's options, looked up in the region (``OptionLookup``)."""

from __future__ import annotations

from typing import Any

from providers.abilities import named, run_lookups
from providers.aws.client import Aws, tag_dict


def instance_types(aws: Aws, architecture: str) -> list[str]:
    """Every instance type that runs ``architecture`` (a previous generation is still a valid choice), by name."""
    return sorted({item["InstanceType"] for item in aws.instance_types()
                   if architecture in item.get("ProcessorInfo", {}).get("SupportedArchitectures", [architecture])})


def subnets(aws: Aws) -> tuple[list[dict[str, str]], str | None]:
    """Subnets as ``{"id", "name"}`` (the ``Name`` tag, else the id, with the CIDR and zone), and the default
    VPC's default subnet of the first zone (what the destination picks without ``subnet_id``) as the default."""
    found = aws.pages("describe_subnets", "Subnets")
    values = named([(s["SubnetId"], f"{tag_dict(s.get('Tags')).get('Name') or s['SubnetId']} "
                                    f"({s.get('CidrBlock', '?')}, {s.get('AvailabilityZone', '?')})") for s in found])
    defaults = sorted((s.get("AvailabilityZone", ""), s["SubnetId"]) for s in found if s.get("DefaultForAz"))
    return values, defaults[0][1] if defaults else None


def destination_options(aws: Aws, architecture: str, names: frozenset[str] | None) -> list[dict[str, Any]]:
    """Instance types (of the chosen ``architecture``), subnets, security groups and key pairs of the region,
    those in ``names`` only when given."""
    return run_lookups({
        "instance_type": lambda: instance_types(aws, architecture),
        "subnet_id": lambda: subnets(aws),
        "security_group_ids": lambda: named([(g["GroupId"], g.get("GroupName", ""))
                                             for g in aws.pages("describe_security_groups", "SecurityGroups")]),
        "key_name": lambda: sorted(k["KeyName"] for k in aws.call("ec2", "describe_key_pairs").get("KeyPairs", [])),
    }, names)
