"""Who may do what: each route of project A for alice (member of A), bob (member of B) and admin."""

from __future__ import annotations

import pytest

from coriolis.database.models import Migration
from coriolis.database.session import session_scope
from tests.coriolis_api.auth.routes import ENDPOINT_BODY, ROUTES, Route
from tests.coriolis_tasks.helpers import stub_migration

RESOURCE_ROUTES = [r for r in ROUTES if r.names_a_resource]


def _call(client, route: Route, url: str, headers: dict[str, str]):
    return client.open(url, method=route.method, json=route.body, headers=headers)


def _seed(client, project: str, headers: dict[str, str]) -> tuple[str, str]:
    """A migration and an endpoint in ``project``; returns their ids."""
    resp = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-1"]), headers=headers)
    assert resp.status_code == 202, resp.get_json()
    endpoint = client.post(f"/v1/{project}/endpoints", json=ENDPOINT_BODY, headers=headers)
    assert endpoint.status_code == 201, endpoint.get_json()
    return resp.get_json()["migration"]["id"], endpoint.get_json()["endpoint"]["id"]


def _finish(database_url: str, migration_id: str) -> None:
    """Mark a migration completed, as a run would, so that it may be deleted."""
    with session_scope(database_url) as s:
        s.get(Migration, migration_id).status = "COMPLETED"
        s.commit()


def _assert_error(resp, code: int, fault: str) -> None:
    assert resp.status_code == code, (resp.status_code, resp.get_json())
    error = resp.get_json()["error"]
    assert error["code"] == code and error["fault"] == fault and error["message"]


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bob_is_forbidden_on_project_a(ks_client, tenants, tokens, route):
    mid, eid = _seed(ks_client, tenants.project_a, tokens["alice"])
    resp = _call(ks_client, route, route.url(tenants.project_a, mid, eid), tokens["bob"])
    _assert_error(resp, 403, "forbidden")
    # and nothing of A changed
    assert ks_client.get(f"/v1/{tenants.project_a}/migrations/{mid}", headers=tokens["alice"]).get_json()[
        "migration"]["status"] == "PENDING"
    assert ks_client.get(f"/v1/{tenants.project_a}/endpoints/{eid}", headers=tokens["alice"]).get_json()[
        "endpoint"]["name"] == "src"


@pytest.mark.parametrize("route", RESOURCE_ROUTES, ids=str)
def test_resources_of_a_do_not_exist_through_b(ks_client, tenants, tokens, route):
    mid, eid = _seed(ks_client, tenants.project_a, tokens["alice"])
    _finish(ks_client.application.config["CORIOLIS_SETTINGS"].database_url, mid)
    for user in ("bob", "admin"):
        resp = _call(ks_client, route, route.url(tenants.project_b, mid, eid), tokens[user])
        _assert_error(resp, 404, "itemNotFound")


def test_listings_of_b_do_not_show_a(ks_client, tenants, tokens):
    mid, eid = _seed(ks_client, tenants.project_a, tokens["alice"])
    for user in ("bob", "admin"):
        for path in ("migrations", "migrations/detail"):
            rows = ks_client.get(f"/v1/{tenants.project_b}/{path}", headers=tokens[user]).get_json()["migrations"]
            assert mid not in {m["id"] for m in rows}
            assert all(m["project_id"] == tenants.project_b for m in rows)
        rows = ks_client.get(f"/v1/{tenants.project_b}/endpoints", headers=tokens[user]).get_json()["endpoints"]
        assert eid not in {e["id"] for e in rows}


def test_alice_can_do_everything_in_her_project(ks_client, tenants, tokens):
    a, headers = tenants.project_a, tokens["alice"]
    mid, eid = _seed(ks_client, a, headers)
    migration = ks_client.get(f"/v1/{a}/migrations/{mid}", headers=headers).get_json()["migration"]
    assert migration["project_id"] == a and migration["user_id"] == _user_id(ks_client, a, headers)
    assert mid in {m["id"] for m in ks_client.get(f"/v1/{a}/migrations", headers=headers).get_json()["migrations"]}
    detail = ks_client.get(f"/v1/{a}/migrations/detail", headers=headers).get_json()["migrations"]
    assert mid in {m["id"] for m in detail}
    cancel = ks_client.post(f"/v1/{a}/migrations/{mid}/actions", json={"cancel": None}, headers=headers)
    assert cancel.status_code == 204
    _finish(ks_client.application.config["CORIOLIS_SETTINGS"].database_url, mid)
    assert ks_client.delete(f"/v1/{a}/migrations/{mid}", headers=headers).status_code == 204
    assert ks_client.get(f"/v1/{a}/migrations/{mid}", headers=headers).status_code == 404
    assert eid in {e["id"] for e in ks_client.get(f"/v1/{a}/endpoints", headers=headers).get_json()["endpoints"]}
    assert ks_client.get(f"/v1/{a}/endpoints/{eid}", headers=headers).status_code == 200
    resp = ks_client.put(f"/v1/{a}/endpoints/{eid}", json={"endpoint": {"name": "renamed"}}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["endpoint"]["name"] == "renamed"
    assert ks_client.delete(f"/v1/{a}/endpoints/{eid}", headers=headers).status_code == 204
    assert "stub" in ks_client.get(f"/v1/{a}/providers", headers=headers).get_json()["providers"]
    assert ks_client.get(f"/v1/{a}/providers/stub/schemas/connection", headers=headers).status_code == 200


def _user_id(client, project: str, headers: dict[str, str]) -> str:
    """The user id Keystone gives the caller (read back from an endpoint the caller creates)."""
    created = client.post(f"/v1/{project}/endpoints", json=ENDPOINT_BODY, headers=headers).get_json()["endpoint"]
    return created["user_id"]


def test_admin_acts_in_any_project(ks_client, tenants, tokens):
    mid, eid = _seed(ks_client, tenants.project_a, tokens["alice"])
    admin = tokens["admin"]
    assert ks_client.get(f"/v1/{tenants.project_a}/migrations/{mid}", headers=admin).status_code == 200
    assert ks_client.get(f"/v1/{tenants.project_a}/endpoints/{eid}", headers=admin).status_code == 200
    resp = ks_client.post(f"/v1/{tenants.project_b}/endpoints", json=ENDPOINT_BODY, headers=admin)
    assert resp.status_code == 201 and resp.get_json()["endpoint"]["project_id"] == tenants.project_b
    # what the admin made in B is B's: bob sees it, alice does not
    created = resp.get_json()["endpoint"]["id"]
    assert ks_client.get(f"/v1/{tenants.project_b}/endpoints/{created}", headers=tokens["bob"]).status_code == 200
    assert ks_client.get(f"/v1/{tenants.project_a}/endpoints/{created}", headers=tokens["alice"]).status_code == 404
    assert ks_client.post(f"/v1/{tenants.project_a}/migrations/{mid}/actions", json={"cancel": None},
                          headers=admin).status_code == 204


def test_all_tenants_lists_every_project_for_admins_only(ks_client, tenants, tokens):
    mid_a, eid_a = _seed(ks_client, tenants.project_a, tokens["alice"])
    mid_b, eid_b = _seed(ks_client, tenants.project_b, tokens["bob"])
    admin = tokens["admin"]
    for value in ("1", "true", "True"):
        for path in ("migrations", "migrations/detail"):
            url = f"/v1/{tenants.admin_project}/{path}?all_tenants={value}"
            rows = ks_client.get(url, headers=admin).get_json()["migrations"]
            assert {mid_a, mid_b} <= {m["id"] for m in rows}
        rows = ks_client.get(f"/v1/{tenants.admin_project}/endpoints?all_tenants={value}", headers=admin).get_json()
        assert {eid_a, eid_b} <= {e["id"] for e in rows["endpoints"]}
    plain = ks_client.get(f"/v1/{tenants.project_a}/migrations?all_tenants=0", headers=admin).get_json()["migrations"]
    assert mid_a in {m["id"] for m in plain} and mid_b not in {m["id"] for m in plain}
    for user, project in (("alice", tenants.project_a), ("bob", tenants.project_b)):
        for path in ("migrations", "migrations/detail", "endpoints"):
            resp = ks_client.get(f"/v1/{project}/{path}?all_tenants=1", headers=tokens[user])
            _assert_error(resp, 403, "forbidden")
            assert "all_tenants" in resp.get_json()["error"]["message"]
    _assert_error(ks_client.get(f"/v1/{tenants.project_a}/migrations?all_tenants=maybe", headers=admin),
                  400, "badRequest")


def test_identity_headers_from_the_caller_are_ignored(ks_client, tenants, tokens):
    """auth_token drops X-Roles/X-Project-Id sent by the caller: bob cannot make himself admin of A."""
    forged = {**tokens["bob"], "X-Roles": "admin", "X-Project-Id": tenants.project_a,
              "X-Identity-Status": "Confirmed", "X-User-Id": "admin"}
    _assert_error(ks_client.get(f"/v1/{tenants.project_a}/migrations", headers=forged), 403, "forbidden")
    forged.pop("X-Auth-Token")
    _assert_error(ks_client.get(f"/v1/{tenants.project_a}/migrations", headers=forged), 401, "unauthorized")
