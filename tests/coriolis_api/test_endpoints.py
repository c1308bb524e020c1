"""Routes of /endpoints: CRUD, validation, redaction, project isolation (no workers)."""

from __future__ import annotations

import uuid

import pytest


def _create(client, project, **fields):
    body = {"endpoint": {"name": "src", "type": "stub", "connection_info": {"instances": ["a", "b"]}, **fields}}
    return client.post(f"/v1/{project}/endpoints", json=body)


def test_crud_round_trip_with_redacted_connection_info(client, project):
    region = client.post(f"/v1/{project}/regions", json={"region": {"name": "r1"}}).get_json()["region"]["id"]
    assert _create(client, project, mapped_regions=["r1"]).status_code == 400  # a region is named by its id
    resp = _create(client, project, description="lab", mapped_regions=[region])
    assert resp.status_code == 201, resp.get_json()
    endpoint = resp.get_json()["endpoint"]
    assert endpoint["type"] == "stub" and endpoint["name"] == "src" and endpoint["mapped_regions"] == [region]
    shown = client.get(f"/v1/{project}/regions/{region}").get_json()["region"]
    assert shown["mapped_endpoints"] == [endpoint["id"]] and shown["name"] == "r1"
    assert client.delete(f"/v1/{project}/regions/{region}").status_code == 409
    assert endpoint["connection_info"] == {"instances": ["a", "b"]}  # no secret: shown as it is
    eid = endpoint["id"]
    assert client.get(f"/v1/{project}/endpoints/{eid}").get_json()["endpoint"]["description"] == "lab"
    resp = client.put(f"/v1/{project}/endpoints/{eid}", json={"endpoint": {"name": "renamed"}})
    assert resp.status_code == 200 and resp.get_json()["endpoint"]["name"] == "renamed"
    assert [e["id"] for e in client.get(f"/v1/{project}/endpoints").get_json()["endpoints"]] == [eid]
    assert client.delete(f"/v1/{project}/endpoints/{eid}").status_code == 204
    assert client.get(f"/v1/{project}/endpoints/{eid}").status_code == 404
    assert client.get(f"/v1/{project}/endpoints").get_json()["endpoints"] == []


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"type": "warp-drive"}, "unknown provider type"),
        ({"name": ""}, "name"),
        ({"connection_info": {"unknown_key": 1}}, "unknown_key"),
        ({"connection_info": "host=x"}, "connection_info"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_endpoint_bodies_are_400(client, project, fields, needle):
    resp = _create(client, project, **fields)
    assert resp.status_code == 400
    assert needle in resp.get_json()["error"]["message"]
    assert client.get(f"/v1/{project}/endpoints").get_json()["endpoints"] == []


def test_type_cannot_change_and_updates_are_validated(client, project):
    eid = _create(client, project).get_json()["endpoint"]["id"]
    assert client.put(f"/v1/{project}/endpoints/{eid}", json={"endpoint": {"type": "kvm"}}).status_code == 400
    resp = client.put(f"/v1/{project}/endpoints/{eid}", json={"endpoint": {"connection_info": {"bad": 1}}})
    assert resp.status_code == 400
    assert client.get(f"/v1/{project}/endpoints/{eid}").get_json()["endpoint"]["type"] == "stub"


def test_endpoints_are_private_to_their_project(client, project):
    eid = _create(client, project).get_json()["endpoint"]["id"]
    other = f"{project}-b"
    assert client.get(f"/v1/{other}/endpoints/{eid}").status_code == 404
    assert client.delete(f"/v1/{other}/endpoints/{eid}").status_code == 404
    body = {"migration": {"origin_endpoint_id": eid, "destination": {"type": "stub"}, "instances": ["a"]}}
    resp = client.post(f"/v1/{other}/migrations", json=body)
    assert resp.status_code == 400 and "not found" in resp.get_json()["error"]["message"]


def test_migration_from_endpoints_and_delete_while_in_use_is_409(client, project):
    src = _create(client, project).get_json()["endpoint"]["id"]
    dst = _create(client, project, name="dst", connection_info={"storage_dir": "/tmp/x"}).get_json()["endpoint"]["id"]
    body = {"migration": {"origin_endpoint_id": src, "destination_endpoint_id": dst, "instances": ["a"]}}
    resp = client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    migration = resp.get_json()["migration"]
    assert migration["origin_endpoint_id"] == src and migration["destination_endpoint_id"] == dst
    assert migration["origin"] == {"type": "stub", "connection_info": {}}
    resp = client.delete(f"/v1/{project}/endpoints/{src}")
    assert resp.status_code == 409 and migration["id"] in resp.get_json()["error"]["message"]
    same = {"migration": {"origin_endpoint_id": src, "destination_endpoint_id": src, "instances": ["a"]}}
    assert "must differ" in client.post(f"/v1/{project}/migrations", json=same).get_json()["error"]["message"]


def test_endpoint_paths_reject_garbage(client, project):
    assert client.get(f"/v1/{project}/endpoints/{uuid.uuid4()}/instances").status_code == 404
    assert client.get(f"/v1/{project}/endpoints?sort_key=connection_info").status_code == 400
    eid = _create(client, project).get_json()["endpoint"]["id"]
    assert client.post(f"/v1/{project}/endpoints/{eid}/actions", json={"reboot": None}).status_code == 400
    assert client.get(f"/v1/{project}/endpoints/{eid}/instances?limit=0").status_code == 400


def test_networks_and_storage_routes_check_the_endpoint_and_env_before_asking_a_worker(client, project, monkeypatch):
    asked = []

    def fake_worker(task_name, *args):
        asked.append((task_name, args))
        return [{"id": "n1", "name": "n1"}]

    monkeypatch.setattr("coriolis_api.resources.endpoints.service.ask_worker", fake_worker)
    for path in ("networks", "storage"):
        assert client.get(f"/v1/{project}/endpoints/{uuid.uuid4()}/{path}").status_code == 404
    eid = _create(client, project).get_json()["endpoint"]["id"]
    assert client.get(f"/v1/{project}-b/endpoints/{eid}/networks").status_code == 404
    for bad in ("[1]", "{nope", "%%%", '{"a": NaN}', "WzFd", "{\"a\":" + "[" * 50000):  # WzFd: base64 of [1]
        resp = client.get(f"/v1/{project}/endpoints/{eid}/storage", query_string={"env": bad})
        assert resp.status_code == 400 and resp.get_json()["error"]["fault"] == "badRequest", bad
    assert asked == []
    resp = client.get(f"/v1/{project}/endpoints/{eid}/networks", query_string={"env": '{"k": 1}'})
    assert resp.get_json() == {"networks": [{"id": "n1", "name": "n1"}]}
    resp = client.get(f"/v1/{project}/endpoints/{eid}/storage")
    assert resp.get_json() == {"storage": {"storage_backends": [{"id": "n1", "name": "n1"}]}}
    assert asked == [("coriolis.control.list_networks", (eid, {"k": 1})),
                     ("coriolis.control.list_storage", (eid, None))]
