"""Endpoint calls answered by a real control worker: validate-connection and instance listing."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture()
def endpoint(live_client):
    project = f"inv-{uuid.uuid4().hex[:8]}"
    names = [f"vm-{n:02d}" for n in range(12)] + ["db-main"]
    body = {"endpoint": {"name": "lab", "type": "stub", "connection_info": {"instances": names}}}
    eid = live_client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]["id"]
    return project, eid, names


def test_validate_connection(live_client, endpoint):
    project, eid, _ = endpoint
    resp = live_client.post(f"/v1/{project}/endpoints/{eid}/actions", json={"validate-connection": None})
    assert resp.status_code == 200
    assert resp.get_json() == {"validate-connection": {"valid": True, "message": ""}}


def test_instances_page_by_marker_and_filter_by_name(live_client, endpoint):
    project, eid, names = endpoint
    seen, marker = [], None
    while True:
        url = f"/v1/{project}/endpoints/{eid}/instances?limit=5" + (f"&marker={marker}" if marker else "")
        page = live_client.get(url).get_json()["instances"]
        if not page:
            break
        seen += [i["id"] for i in page]
        marker = page[-1]["id"]
    assert seen == sorted(names)
    found = live_client.get(f"/v1/{project}/endpoints/{eid}/instances?name=DB").get_json()["instances"]
    assert [i["name"] for i in found] == ["db-main"]
    assert set(found[0]) >= {"id", "name", "num_cpu", "memory_mb", "os_type"}
    assert live_client.get(f"/v1/{project}/endpoints/{eid}/instances?marker=nope").status_code == 400


def test_one_instance_in_full_and_a_missing_one(live_client, endpoint):
    project, eid, _ = endpoint
    instance = live_client.get(f"/v1/{project}/endpoints/{eid}/instances/vm-03").get_json()["instance"]
    assert instance["name"] == "vm-03" and instance["devices"]["disks"][0]["size_bytes"] == 16 << 20
    resp = live_client.get(f"/v1/{project}/endpoints/{eid}/instances/ghost")
    assert resp.status_code == 404 and "not found" in resp.get_json()["error"]["message"]


def test_networks_and_storage_of_an_endpoint(live_client, endpoint):
    project, eid, _ = endpoint
    resp = live_client.get(f"/v1/{project}/endpoints/{eid}/networks")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"networks": [{"id": "stub-net", "name": "stub-net", "type": "stub", "vlan_id": None}]}
    resp = live_client.get(f"/v1/{project}/endpoints/{eid}/storage")
    assert resp.status_code == 200, resp.get_json()
    storage = resp.get_json()["storage"]
    assert "config_default" not in storage
    assert [(b["id"], b["name"]) for b in storage["storage_backends"]] == [("stub-storage", "stub-storage")]
    extra = storage["storage_backends"][0]["additional_provider_properties"]  # upstream's place for them
    assert extra["free_bytes"] <= extra["capacity_bytes"]


def test_env_is_json_or_base64_json_and_reaches_the_provider(live_client, endpoint):
    import base64
    import json

    project, eid, _ = endpoint
    env = {"disk_size_mb": 32}
    for value in (json.dumps(env), base64.b64encode(json.dumps(env).encode()).decode()):
        resp = live_client.get(f"/v1/{project}/endpoints/{eid}/networks", query_string={"env": value})
        assert resp.status_code == 200, resp.get_json()
    # the stub source validates its environment: a bad option is the caller's error
    resp = live_client.get(f"/v1/{project}/endpoints/{eid}/storage", query_string={"env": '{"disks": 99}'})
    assert resp.status_code == 400 and "disks" in resp.get_json()["error"]["message"]


def test_a_provider_without_the_ability_is_a_400(live_client, tmp_path):
    project = f"inv-{uuid.uuid4().hex[:8]}"
    body = {"endpoint": {"name": "ovas", "type": "ova", "connection_info": {"path": str(tmp_path)}}}
    resp = live_client.post(f"/v1/{project}/endpoints", json=body)
    assert resp.status_code == 201, resp.get_json()
    eid = resp.get_json()["endpoint"]["id"]
    for path in ("networks", "storage"):
        resp = live_client.get(f"/v1/{project}/endpoints/{eid}/{path}")
        assert resp.status_code == 400, resp.get_json()
        error = resp.get_json()["error"]
        assert error["fault"] == "badRequest" and "cannot list networks and storage" in error["message"]


def test_an_endpoint_valid_in_one_of_its_roles_is_valid_and_says_which(live_client, tmp_path):
    """coriolis-web validates every endpoint it saves: a kvm endpoint made for a destination (no domains_dir)
    or for a source (no storage_dir) is valid, and the message says why it cannot play the other role."""
    project = f"inv-{uuid.uuid4().hex[:8]}"
    (tmp_path / "domains").mkdir()
    for info, valid_as, other in (({"storage_dir": str(tmp_path / "dst")}, "destination", "source"),
                                  ({"domains_dir": str(tmp_path / "domains")}, "source", "destination")):
        body = {"endpoint": {"name": valid_as, "type": "kvm", "connection_info": info}}
        eid = live_client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]["id"]
        answer = live_client.post(f"/v1/{project}/endpoints/{eid}/actions",
                                  json={"validate-connection": None}).get_json()["validate-connection"]
        assert answer["valid"] is True, answer
        assert answer["message"].startswith(f"valid as a {valid_as} only (as a {other}: "), answer
