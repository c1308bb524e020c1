"""``coriolis endpoint ...`` and ``coriolis provider ...`` against a real API and workers."""

from __future__ import annotations

import json

import requests
import yaml

from tests.coriolis_client.helpers import run, run_json

SECRET = "s3cret-do-not-print"


def test_endpoint_lifecycle(cli_env, tmp_path):
    info = tmp_path / "conn.json"
    info.write_text(json.dumps({"instances": [f"vm-{n}" for n in range(5)], "password": SECRET}))
    created = run(cli_env, "endpoint", "create", "--name", "src", "--type", "stub", "--description", "lab",
                  "--connection-info-file", str(info))
    assert SECRET not in created.stdout + created.stderr
    assert "src" in created.stdout and "***" in created.stdout  # a table of the redacted endpoint

    spec = tmp_path / "dest.yaml"
    region = requests.post(f"{cli_env['CORIOLIS_URL']}/v1/{cli_env['CORIOLIS_PROJECT']}/regions",
                           json={"region": {"name": "r1"}}, timeout=30).json()["region"]["id"]
    spec.write_text(yaml.safe_dump({"endpoint": {"name": "dst", "type": "stub", "mapped_regions": [region]}}))
    env = {**cli_env, "DEST_CONN": json.dumps({"storage_dir": str(tmp_path / "d"), "password": SECRET})}
    dst = run_json(env, "endpoint", "create", "--from-file", str(spec), "--connection-info-env", "DEST_CONN")
    assert dst["name"] == "dst" and dst["mapped_regions"] == [region]
    assert dst["connection_info"] == {"storage_dir": "***", "password": "***"}

    listed = run_json(cli_env, "endpoint", "list")
    assert sorted(e["name"] for e in listed) == ["dst", "src"]
    table = run(cli_env, "endpoint", "list").stdout
    assert "src" in table and "dst" in table
    assert [e["name"] for e in run_json(cli_env, "endpoint", "list", "--limit", "1")] == [listed[0]["name"]]

    shown = run_json(cli_env, "endpoint", "show", "src")  # by name
    assert shown["description"] == "lab"
    assert run_json(cli_env, "endpoint", "show", shown["id"])["name"] == "src"
    assert yaml.safe_load(run(cli_env, "endpoint", "show", "src", "-f", "yaml").stdout)["id"] == shown["id"]

    assert run_json(cli_env, "endpoint", "validate", "src")["valid"] is True

    page = run_json(cli_env, "endpoint", "instances", "src", "--limit", "2")
    assert [i["id"] for i in page] == ["vm-0", "vm-1"]
    page2 = run_json(cli_env, "endpoint", "instances", "src", "--limit", "2", "--marker", "vm-1")
    assert [i["id"] for i in page2] == ["vm-2", "vm-3"]
    walked = run_json(cli_env, "endpoint", "instances", "src", "--all", "--limit", "2")
    assert [i["id"] for i in walked] == [f"vm-{n}" for n in range(5)]
    assert [i["id"] for i in run_json(cli_env, "endpoint", "instances", "src", "--name", "vm-4")] == ["vm-4"]
    one = run_json(cli_env, "endpoint", "instance", "src", "vm-3")
    assert one["devices"]["nics"][0]["network_name"] == "stub-net"

    updated = run_json(cli_env, "endpoint", "update", "src", "--description", "lab 2")
    assert updated["description"] == "lab 2"

    run(cli_env, "endpoint", "delete", "dst")
    missing = run(cli_env, "endpoint", "show", dst["id"], code=1)
    assert "404 itemNotFound" in missing.stderr
    bad = run(cli_env, "endpoint", "instance", "src", "no-such-vm", code=1)
    assert "no-such-vm" in bad.stderr


def test_endpoint_create_refuses_bad_input(cli_env, tmp_path):
    bad = run(cli_env, "endpoint", "create", "--name", "x", "--type", "nosuch", code=1)
    assert "400 badRequest" in bad.stderr and "nosuch" in bad.stderr
    env = {**cli_env, "CONN": "not json"}
    out = run(cli_env | env, "endpoint", "create", "--name", "x", "--type", "stub", "--connection-info-env", "CONN",
              code=2)
    assert "CONN does not hold JSON" in out.stderr and "not json" not in out.stderr
    assert "needs --name and --type" in run(cli_env, "endpoint", "create", "--type", "stub", code=2).stderr


def test_provider_commands(cli_env):
    providers = {p["type"]: p for p in run_json(cli_env, "provider", "list")}
    assert "source" in providers["stub"]["abilities"] and "destination" in providers["stub"]["abilities"]
    schema = run_json(cli_env, "provider", "schema", "stub", "destination")
    assert "fail_boot" in schema["properties"]
    assert "404" in run(cli_env, "provider", "schema", "nosuch", "source", code=1).stderr


def test_endpoint_networks_and_storage(cli_env, tmp_path):
    info = tmp_path / "conn.json"
    info.write_text(json.dumps({"networks": ["prod", "dmz"], "storage_backends": ["fast", "slow"]}))
    run(cli_env, "endpoint", "create", "--name", "lab", "--type", "stub", "--connection-info-file", str(info))
    nets = run_json(cli_env, "endpoint", "networks", "lab")
    assert [(n["name"], n["type"]) for n in nets] == [("prod", "stub"), ("dmz", "stub")]
    table = run(cli_env, "endpoint", "networks", "lab").stdout
    assert "prod" in table and "vlan_id" in table
    backends = run_json(cli_env, "endpoint", "storage", "lab", "--env", '{"disk_size_mb": 8}')
    assert [b["id"] for b in backends] == ["fast", "slow"] and backends[0]["capacity_bytes"] > 0
    bad = run(cli_env, "endpoint", "storage", "lab", "--env", '{"disks": 99}', code=1)
    assert "400 badRequest" in bad.stderr and "disks" in bad.stderr
    assert "--env must be a JSON object" in run(cli_env, "endpoint", "networks", "lab", "--env", "[]", code=2).stderr


def test_client_networks_and_storage(api_url, project):
    from coriolis_client.client import Client

    client = Client(api_url, project)
    endpoint = client.endpoints.create("lib", "stub", {"networks": ["n1"]})
    assert [n["id"] for n in client.endpoints.networks(endpoint["id"])] == ["n1"]
    storage = client.endpoints.storage(endpoint["id"], env={"disks": 2})
    assert "config_default" not in storage and [b["id"] for b in storage["storage_backends"]] == ["stub-storage"]
