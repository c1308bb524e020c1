"""Endpoint actions answered by real workers: allowed to the owner and admins only."""

from __future__ import annotations

import pytest

from tests.coriolis_api.auth.routes import ENDPOINT_BODY


@pytest.fixture()
def live_ks_client(workers, keystone, keystone_settings):
    """The API behind auth_token, on the database the running workers use (members may use the stub)."""
    from coriolis_api.app import create_app

    app = create_app(workers.settings.replace(policy_file=keystone_settings.policy_file,
                                              **keystone.middleware_settings()))
    app.config["TESTING"] = True
    return app.test_client()


def test_validate_and_inventory_for_owner_and_admin_only(live_ks_client, tenants, tokens):
    a, client = tenants.project_a, live_ks_client
    eid = client.post(f"/v1/{a}/endpoints", json=ENDPOINT_BODY, headers=tokens["alice"]).get_json()["endpoint"]["id"]
    for user in ("alice", "admin"):
        resp = client.post(f"/v1/{a}/endpoints/{eid}/actions", json={"validate-connection": None},
                           headers=tokens[user])
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["validate-connection"]["valid"] is True, resp.get_json()
        rows = client.get(f"/v1/{a}/endpoints/{eid}/instances", headers=tokens[user]).get_json()["instances"]
        assert [r["id"] for r in rows] == ["vm-1"]
        one = client.get(f"/v1/{a}/endpoints/{eid}/instances/vm-1", headers=tokens[user])
        assert one.status_code == 200 and one.get_json()["instance"]["id"] == "vm-1"
        nets = client.get(f"/v1/{a}/endpoints/{eid}/networks", headers=tokens[user])
        assert nets.status_code == 200 and [n["id"] for n in nets.get_json()["networks"]] == ["stub-net"]
        store = client.get(f"/v1/{a}/endpoints/{eid}/storage", headers=tokens[user])
        assert store.status_code == 200 and store.get_json()["storage"]["storage_backends"][0]["id"] == "stub-storage"
    for path in ("instances", "instances/vm-1", "networks", "storage"):
        assert client.get(f"/v1/{a}/endpoints/{eid}/{path}", headers=tokens["bob"]).status_code == 403
        assert client.get(f"/v1/{tenants.project_b}/endpoints/{eid}/{path}", headers=tokens["bob"]).status_code == 404
