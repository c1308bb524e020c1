"""Routes of /migrations: creation, validation, shapes, cancel and delete rules (no workers)."""

from __future__ import annotations

import uuid

import pytest

from tests.coriolis_tasks.helpers import stub_migration


def _post(client, project, body):
    return client.post(f"/v1/{project}/migrations", json=body)


def test_create_returns_the_upstream_shape_with_redacted_secrets(client, project):
    body = stub_migration(["vm-1"])
    body["migration"]["origin"]["connection_info"] = {
        "instances": ["vm-1"], "storage_dir": "/tmp/stub-src", "password": "secret-pw"
    }
    resp = _post(client, project, body)
    assert resp.status_code == 202, resp.get_json()
    migration = resp.get_json()["migration"]
    uuid.UUID(migration["id"])
    assert migration["type"] == "migration"
    assert migration["status"] == "PENDING"
    assert migration["instances"] == ["vm-1"]
    assert migration["project_id"] == project
    # secrets and host paths are masked, other values keep their JSON type
    shown_info = {"instances": ["vm-1"], "storage_dir": "***", "password": "***"}
    assert migration["origin"] == {"type": "stub", "connection_info": shown_info}
    assert "secret-pw" not in resp.get_data(as_text=True) and "/tmp/stub-src" not in resp.get_data(as_text=True)
    assert migration["destination"]["type"] == "stub"
    shown = client.get(f"/v1/{project}/migrations/{migration['id']}").get_json()["migration"]
    assert shown["id"] == migration["id"]
    assert [t["task_type"] for t in shown["tasks"]] == ["GET_INSTANCE_INFO"]
    assert shown["tasks"][0]["status"] == "SCHEDULED"


def test_secret_references_are_accepted_and_shown_as_given(client, project):
    body = stub_migration(["vm-1"])
    body["migration"]["origin"]["connection_info"] = {"secret_ref": "https://barbican/v1/secrets/abc"}
    resp = _post(client, project, body)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["migration"]["origin"]["connection_info"] == {
        "secret_ref": "https://barbican/v1/secrets/abc"
    }


def test_network_map_is_copied_into_the_destination_environment(client, project):
    body = stub_migration(["vm-1"])
    body["migration"]["destination"]["network_map"] = {"VM Network": "private"}
    migration = _post(client, project, body).get_json()["migration"]
    assert migration["network_map"] == {"VM Network": "private"}
    assert migration["destination_environment"]["network_map"] == {"VM Network": "private"}


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["migration"].pop("instances"), "instances"),
        (lambda b: b["migration"].update(instances=[]), "instances"),
        (lambda b: b["migration"].update(instances=["a", "a"]), "listed twice"),
        (lambda b: b["migration"].update(instances="vm-1"), "instances"),
        (lambda b: b["migration"].update(bogus=1), "bogus"),
        (lambda b: b["migration"]["origin"].update(type="nope"), "unknown provider type 'nope'"),
        (lambda b: b["migration"].pop("origin"), "origin"),
        (lambda b: b["migration"].update(origin_endpoint_id=str(uuid.uuid4())), "exactly one of origin"),
        (lambda b: b["migration"]["destination"]["target_environment"].update(disk_format="floppy"), "disk_format"),
        (lambda b: b["migration"]["source_environment"].update(disks="two"), "disks"),
        (lambda b: b["migration"]["origin"]["connection_info"].update(colour="red"), "colour"),
        (lambda b: b["migration"]["origin"].update(connection_info={"secret_id": 5}), "secret"),
        (lambda b: b.update(migration=[]), "migration"),
        (lambda b: b.pop("migration"), "migration"),
    ],
)
def test_bad_bodies_get_a_400_naming_the_problem(client, project, mutate, needle):
    body = stub_migration(["vm-1"])
    mutate(body)
    resp = _post(client, project, body)
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == 400 and error["fault"] == "badRequest"
    assert needle in error["message"]
    assert client.get(f"/v1/{project}/migrations").get_json()["migrations"] == []


def test_malformed_json_and_wrong_content_are_400(client, project):
    resp = client.post(f"/v1/{project}/migrations", data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["fault"] == "badRequest"
    resp = client.post(f"/v1/{project}/migrations", data="migration=1", content_type="text/plain")
    assert resp.status_code in (400, 415)
    assert "error" in resp.get_json()


def test_oversize_body_is_413(client, project):
    body = stub_migration(["vm-1"])
    body["migration"]["notes"] = "x" * (2 << 20)
    resp = _post(client, project, body)
    assert resp.status_code == 413
    assert resp.get_json()["error"] == {"code": 413, "message": "request body too large", "fault": "overLimit"}


def test_unknown_ids_and_routes_are_404_in_the_api_format(client, project):
    for path in (
        f"/v1/{project}/migrations/{uuid.uuid4()}",
        f"/v1/{project}/migrations/not-a-uuid",
        f"/v1/{project}/nothing-here",
        "/v1/bad%20project!/migrations",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.get_json()["error"]["fault"] == "itemNotFound"
    resp = client.put(f"/v1/{project}/migrations")
    assert resp.status_code == 405
    assert resp.get_json()["error"]["code"] == 405


def test_other_projects_do_not_see_a_migration(client, project):
    migration = _post(client, project, stub_migration(["vm-1"])).get_json()["migration"]
    other = f"{project}-other"
    assert client.get(f"/v1/{other}/migrations/{migration['id']}").status_code == 404
    assert client.get(f"/v1/{other}/migrations").get_json()["migrations"] == []
    assert client.delete(f"/v1/{other}/migrations/{migration['id']}").status_code == 404


def test_delete_of_an_unfinished_migration_is_409_and_keeps_it(client, project):
    migration = _post(client, project, stub_migration(["vm-1"])).get_json()["migration"]
    resp = client.delete(f"/v1/{project}/migrations/{migration['id']}")
    assert resp.status_code == 409
    assert "PENDING" in resp.get_json()["error"]["message"]
    assert resp.get_json()["error"]["fault"] == "conflict"
    assert client.get(f"/v1/{project}/migrations/{migration['id']}").status_code == 200


@pytest.mark.parametrize("body", [{}, {"cancel": 1}, {"explode": None}, {"cancel": {"force": "maybe"}}])
def test_bad_actions_are_400(client, project, body):
    migration = _post(client, project, stub_migration(["vm-1"])).get_json()["migration"]
    resp = client.post(f"/v1/{project}/migrations/{migration['id']}/actions", json=body)
    assert resp.status_code == 400, resp.get_json()


def test_list_and_detail(client, project):
    ids = {_post(client, project, stub_migration([f"vm-{n}"])).get_json()["migration"]["id"] for n in range(3)}
    listed = client.get(f"/v1/{project}/migrations").get_json()["migrations"]
    assert {m["id"] for m in listed} == ids
    assert all("tasks" not in m for m in listed)
    detailed = client.get(f"/v1/{project}/migrations/detail").get_json()["migrations"]
    assert {m["id"] for m in detailed} == ids
    assert all(m["tasks"][0]["task_type"] == "GET_INSTANCE_INFO" for m in detailed)


def test_creation_dispatches_the_planning_once(client, project, dispatched):
    migration = _post(client, project, stub_migration(["vm-1", "vm-2"])).get_json()["migration"]
    assert dispatched == [migration["id"]]
    _post(client, project, {"migration": {}})
    assert dispatched == [migration["id"]]


def _openstack_migration(network_map: dict, **storage) -> dict:
    body = stub_migration(["vm-1"])
    body["migration"]["destination"] = {
        "type": "openstack", "target_environment": {"flavor_name": "m1.small"},
        "connection_info": {"auth_url": "http://203.0.113.5:5000/v3", "username": "u", "password": "p",
                            "project_name": "demo"}}
    body["migration"]["network_map"] = network_map
    if storage:
        body["migration"]["storage_mappings"] = storage
    return body


def test_network_map_objects_reach_the_destination_and_bad_ones_are_400(client, project):
    new_net = {"create": True, "cidr": "10.1.2.0/24", "vlan_id": 12}
    resp = _post(client, project, _openstack_migration(
        {"VM Network": "prod", "DC0_DVPG0": new_net}, backend_mappings=[{"source": "LocalDS_0", "destination": "ssd"}]))
    assert resp.status_code == 202, resp.get_json()
    env = resp.get_json()["migration"]["destination_environment"]
    assert env["network_map"] == {"VM Network": "prod", "DC0_DVPG0": new_net}
    assert env["storage_mappings"]["backend_mappings"] == [{"source": "LocalDS_0", "destination": "ssd"}]
    for value, needle in (({"create": True, "cidr": "10.1.2.0/33"}, "cidr"), (7, "network name or id"),
                          ({"create": True, "cidr": "10.1.2.0/24", "gateway_ip": "10.9.9.9"}, "gateway_ip")):
        resp = _post(client, project, _openstack_migration({"VM Network": value}))
        assert resp.status_code == 400, (value, resp.get_json())
        assert resp.get_json()["error"]["fault"] == "badRequest" and needle in resp.get_json()["error"]["message"]


def test_a_cancel_of_a_run_already_cancelling_succeeds_and_changes_nothing(client, project, settings):
    from coriolis.database.models import Migration
    from coriolis.database.session import session_scope

    migration = _post(client, project, stub_migration(["vm-1"])).get_json()["migration"]
    with session_scope(settings.database_url) as s:
        s.get(Migration, migration["id"]).status = "CANCELLING"
    for route in ("actions", "action"):  # a client retrying its cancel expects success
        resp = client.post(f"/v1/{project}/migrations/{migration['id']}/{route}", json={"cancel": None})
        assert resp.status_code == 204, resp.get_json()
    assert client.get(f"/v1/{project}/migrations/{migration['id']}").get_json()["migration"]["status"] == "CANCELLING"
    with session_scope(settings.database_url) as s:
        s.get(Migration, migration["id"]).status = "CANCELED"
    resp = client.post(f"/v1/{project}/migrations/{migration['id']}/actions", json={"cancel": None})
    assert resp.status_code == 409 and resp.get_json()["error"]["fault"] == "conflict"


def test_a_poller_holding_the_current_body_gets_a_304(client, project):
    created = _post(client, project, stub_migration(["vm-etag"]))
    mid = created.get_json()["migration"]["id"]
    first = client.get(f"/v1/{project}/migrations/{mid}")
    etag = first.headers["ETag"]

    again = client.get(f"/v1/{project}/migrations/{mid}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(f"/v1/{project}/migrations/{mid}", headers={"If-None-Match": '"not-the-body"'})
    assert other.status_code == 200 and other.get_json() == first.get_json()
    # a change shows as a new body and a new tag: a listing after one more migration
    listing = client.get(f"/v1/{project}/migrations")
    _post(client, project, stub_migration(["vm-etag-2"]))
    changed = client.get(f"/v1/{project}/migrations", headers={"If-None-Match": listing.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != listing.headers["ETag"]
    assert len(changed.get_json()["migrations"]) == len(listing.get_json()["migrations"]) + 1
