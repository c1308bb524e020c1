"""The aws destination's OptionLookup against moto: the region's instance types, subnets, security groups and
key pairs, as the account holds them."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from urllib.parse import urlencode

import pytest

from providers.abilities import OptionLookup
from providers.registry import get_provider
from providers.types import ProviderError

PROVIDER = get_provider("aws")


def _options(connection: dict, names: frozenset[str] | None = None, **target) -> dict[str, dict]:
    importer = PROVIDER.importer(connection, target)
    assert isinstance(importer, OptionLookup)
    return {o["name"]: o for o in importer.lookup_options(names)}


def test_the_accounts_resources_are_listed(account):
    ec2 = account.moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.3.0/24", AvailabilityZone="us-east-1b",
                               TagSpecifications=[{"ResourceType": "subnet",
                                                   "Tags": [{"Key": "Name", "Value": "lookup-net"}]}])["Subnet"]
    group_name = f"lookup-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=group_name, Description="lookup", VpcId=vpc)["GroupId"]
    key = f"lookup-key-{uuid.uuid4().hex[:6]}"
    ec2.create_key_pair(KeyName=key)

    options = _options(account.moto.connection_info())
    assert set(options) == {"instance_type", "subnet_id", "security_group_ids", "key_name"}
    subnets = {s["id"]: s["name"] for s in options["subnet_id"]["values"]}
    assert subnets[subnet["SubnetId"]] == "lookup-net (10.77.3.0/24, us-east-1b)"
    assert account.subnets["prod"] in subnets and account.subnets["backend"] in subnets
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    first_default = sorted((s["AvailabilityZone"], s["SubnetId"]) for s in defaults)[0][1]
    assert options["subnet_id"]["config_default"] == first_default  # what the destination picks unasked
    assert {"id": group, "name": group_name} in options["security_group_ids"]["values"]
    assert {"id": account.security_group, "name": ec2.describe_security_groups(
        GroupIds=[account.security_group])["SecurityGroups"][0]["GroupName"]} in options["security_group_ids"]["values"]
    assert {key, account.key_name} <= set(options["key_name"]["values"])
    types = options["instance_type"]["values"]
    assert "m5.large" in types and "t3.micro" in types and types == sorted(types)
    assert "m6g.large" not in types  # arm64 only: not for the default x86_64


def test_instance_types_follow_the_chosen_architecture_and_names_filter(account):
    options = _options(account.moto.connection_info(), frozenset({"instance_type"}), architecture="arm64")
    types = options["instance_type"]["values"]
    assert list(options) == ["instance_type"]
    assert "m6g.large" in types and "m5.large" not in types


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_region_is_a_provider_error_without_the_secret(account):
    connection = {**account.moto.connection_info(), "endpoint_url": f"http://127.0.0.1:{_closed_port()}"}
    with pytest.raises(ProviderError) as err:
        _options(connection, frozenset({"key_name"}))
    assert "describe_key_pairs" in str(err.value) and "moto-secret-key" not in str(err.value)


def test_destination_options_through_the_api_and_a_worker(fleet, account):
    """What coriolis-web asks: its whole environment form in base64 ``?env=`` (a ``title`` included), some names."""
    api, project = fleet.api, f"opts-{uuid.uuid4().hex[:8]}"

    def endpoint(connection: dict) -> str:
        body = {"endpoint": {"name": "aws", "type": "aws", "connection_info": connection}}
        resp = api.post(f"/v1/{project}/endpoints", json=body)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["endpoint"]["id"]

    env = base64.b64encode(json.dumps({"architecture": "x86_64", "title": "web tier"}).encode()).decode()
    query = urlencode({"env": env, "option_names": "subnet_id,key_name,volume_type"})
    resp = api.get(f"/v1/{project}/endpoints/{endpoint(account.moto.connection_info())}/destination-options?{query}")
    assert resp.status_code == 200, resp.get_json()
    options = {o["name"]: o for o in resp.get_json()["destination_options"]}
    assert list(options) == ["subnet_id", "key_name", "volume_type"]  # the schema's order
    assert set(account.subnets.values()) <= {s["id"] for s in options["subnet_id"]["values"]}
    assert account.key_name in options["key_name"]["values"]
    assert options["volume_type"] == {"name": "volume_type", "config_default": "gp3",
                                      "values": ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]}

    down = endpoint({**account.moto.connection_info(), "endpoint_url": f"http://127.0.0.1:{_closed_port()}"})
    resp = api.get(f"/v1/{project}/endpoints/{down}/destination-options?option_names=key_name")
    assert resp.status_code == 502, resp.get_json()
    error = resp.get_json()["error"]
    assert "looking up destination options failed" in error["message"] and "describe_key_pairs" in error["message"]
    assert "moto-secret-key" not in json.dumps(resp.get_json())
