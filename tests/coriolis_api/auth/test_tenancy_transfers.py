"""Transfers, executions, deployments and schedules of project A, seen by bob (B), alice (A) and admin."""

from __future__ import annotations

import pytest

from coriolis.database.models import Migration
from coriolis.database.session import session_scope

CANCEL = {"cancel": None}
# {p} project, {t} transfer, {x} execution, {d} deployment, {s} schedule
ROUTES = [
    ("GET", "{p}/transfers", None),
    ("POST", "{p}/transfers", "TRANSFER"),
    ("GET", "{p}/transfers/{t}", None),
    ("PUT", "{p}/transfers/{t}", {"transfer": {"notes": "x"}}),
    ("DELETE", "{p}/transfers/{t}", None),
    ("POST", "{p}/transfers/{t}/actions", {"delete-disks": None}),
    ("GET", "{p}/transfers/{t}/executions", None),
    ("GET", "{p}/transfers/{t}/executions/detail", None),
    ("POST", "{p}/transfers/{t}/executions", {"execution": {}}),
    ("GET", "{p}/transfers/{t}/executions/{x}", None),
    ("POST", "{p}/transfers/{t}/executions/{x}/actions", CANCEL),
    ("DELETE", "{p}/transfers/{t}/executions/{x}", None),
    ("GET", "{p}/transfers/{t}/schedules", None),
    ("POST", "{p}/transfers/{t}/schedules", {"schedule": {"minute": "5"}}),
    ("GET", "{p}/transfers/{t}/schedules/{s}", None),
    ("PUT", "{p}/transfers/{t}/schedules/{s}", {"enabled": False}),
    ("DELETE", "{p}/transfers/{t}/schedules/{s}", None),
    ("GET", "{p}/deployments", None),
    ("POST", "{p}/deployments", "DEPLOYMENT"),
    ("GET", "{p}/deployments/{d}", None),
    ("POST", "{p}/deployments/{d}/actions", CANCEL),
    ("DELETE", "{p}/deployments/{d}", None),
]


@pytest.fixture(autouse=True)
def no_dispatch(monkeypatch):
    monkeypatch.setattr("coriolis_tasks.control.submit", lambda _id: None)


def _seed(client, project: str, headers: dict) -> dict[str, str]:
    def post(path, body, code):
        resp = client.post(f"/v1/{project}/{path}", json=body, headers=headers)
        assert resp.status_code == code, resp.get_json()
        return next(iter(resp.get_json().values()))["id"]

    ids = {"p": project}
    src = post("endpoints", {"endpoint": {"name": "s", "type": "stub", "connection_info": {}}}, 201)
    dst = post("endpoints", {"endpoint": {"name": "d", "type": "stub", "connection_info": {}}}, 201)
    ids["transfer_body"] = {"transfer": {"origin_endpoint_id": src, "destination_endpoint_id": dst, "instances": ["a"]}}
    ids["t"] = post("transfers", ids["transfer_body"], 201)
    ids["x"] = post(f"transfers/{ids['t']}/executions", {"execution": {}}, 202)
    ids["s"] = post(f"transfers/{ids['t']}/schedules", {"schedule": {"minute": "1"}}, 201)
    ids["d"] = _forced_deployment(client, project, headers, ids)
    return ids


def _forced_deployment(client, project, headers, ids) -> str:
    database_url = client.application.config["CORIOLIS_SETTINGS"].database_url
    with session_scope(database_url) as s:
        s.get(Migration, ids["x"]).status = "COMPLETED"  # as if the execution had finished
    resp = client.post(f"/v1/{project}/deployments", json={"deployment": {"transfer_id": ids["t"]}}, headers=headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["deployment"]["id"]


def _call(client, method, path, body, ids, project, headers):
    if body == "TRANSFER":
        body = ids["transfer_body"]
    elif body == "DEPLOYMENT":
        body = {"deployment": {"transfer_id": ids["t"], "force": True}}
    url = "/v1/" + path.format(**{**ids, "p": project})
    return client.open(url, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=lambda v: str(v))
def test_bob_is_forbidden_on_project_a(ks_client, tenants, tokens, method, path, body):
    ids = _seed(ks_client, tenants.project_a, tokens["alice"])
    resp = _call(ks_client, method, path, body, ids, tenants.project_a, tokens["bob"])
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"]["fault"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path", "body"), [r for r in ROUTES if "{t}" in r[1] or "{d}" in r[1]], ids=lambda v: str(v)
)
def test_resources_of_a_do_not_exist_through_b(ks_client, tenants, tokens, method, path, body):
    ids = _seed(ks_client, tenants.project_a, tokens["alice"])
    for user in ("bob", "admin"):
        resp = _call(ks_client, method, path, body, ids, tenants.project_b, tokens[user])
        assert resp.status_code == 404, (user, resp.get_json())
        assert resp.get_json()["error"]["fault"] == "itemNotFound"


def test_listings_of_b_do_not_show_a_and_alice_sees_hers(ks_client, tenants, tokens):
    ids = _seed(ks_client, tenants.project_a, tokens["alice"])
    for user in ("bob", "admin"):
        b = tenants.project_b
        assert ids["t"] not in {
            t["id"] for t in ks_client.get(f"/v1/{b}/transfers", headers=tokens[user]).get_json()["transfers"]
        }
        assert ids["d"] not in {
            d["id"] for d in ks_client.get(f"/v1/{b}/deployments", headers=tokens[user]).get_json()["deployments"]
        }
    a = tenants.project_a
    assert ids["t"] in {
        t["id"] for t in ks_client.get(f"/v1/{a}/transfers", headers=tokens["alice"]).get_json()["transfers"]
    }
    shown = ks_client.get(f"/v1/{a}/transfers/{ids['t']}/executions/{ids['x']}", headers=tokens["alice"])
    assert shown.status_code == 200 and shown.get_json()["execution"]["action_id"] == ids["t"]
    admin_all = ks_client.get(f"/v1/{a}/deployments?all_tenants=1", headers=tokens["admin"])
    assert ids["d"] in {d["id"] for d in admin_all.get_json()["deployments"]}
