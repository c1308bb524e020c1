"""Routes of transfers, executions, deployments and schedules: validation and shapes (no workers)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture()
def endpoints(client, project, tmp_path):
    def make(name, info):
        body = {"endpoint": {"name": name, "type": "stub", "connection_info": info}}
        return client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]["id"]

    return make("src", {"instances": ["a"]}), make("dst", {"storage_dir": str(tmp_path)})


def _transfer(client, project, endpoints, **fields):
    src, dst = endpoints
    body = {"transfer": {"origin_endpoint_id": src, "destination_endpoint_id": dst, "instances": ["a"], **fields}}
    return client.post(f"/v1/{project}/transfers", json=body)


def test_transfer_crud_and_shape(client, project, endpoints):
    resp = _transfer(client, project, endpoints, notes="n", destination_environment={"disk_format": "raw"})
    assert resp.status_code == 201, resp.get_json()
    transfer = resp.get_json()["transfer"]
    assert transfer["scenario"] == "replica" and transfer["type"] == "transfer"
    assert transfer["executions"] == [] and transfer["last_execution_status"] is None
    assert transfer["clone_disks"] is True and transfer["replica_disks"] == []
    tid = transfer["id"]
    resp = client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"notes": "changed"}})
    assert resp.status_code == 200 and resp.get_json()["transfer"]["notes"] == "changed"
    assert client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"scenario": "x"}}).status_code == 400
    bad_env = {"transfer": {"destination_environment": {"disk_format": "tape"}}}
    assert client.put(f"/v1/{project}/transfers/{tid}", json=bad_env).status_code == 400
    assert [t["id"] for t in client.get(f"/v1/{project}/transfers").get_json()["transfers"]] == [tid]
    assert client.get(f"/v1/{project}-other/transfers/{tid}").status_code == 404
    assert client.delete(f"/v1/{project}/transfers/{tid}").status_code == 204
    assert client.get(f"/v1/{project}/transfers/{tid}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"scenario": "teleport"}, "scenario"),
        ({"instances": []}, "instances"),
        ({"source_environment": {"disks": "many"}}, "disks"),
        ({"destination_environment": {"nope": 1}}, "nope"),
        ({"origin_endpoint_id": str(uuid.uuid4())}, "not found"),
        ({"origin_endpoint_id": "not-a-uuid"}, "origin_endpoint_id"),
    ],
)
def test_bad_transfers_are_400(client, project, endpoints, fields, needle):
    resp = _transfer(client, project, endpoints, **fields)
    assert resp.status_code == 400, resp.get_json()
    assert needle in resp.get_json()["error"]["message"]


def test_same_endpoint_on_both_sides_is_400(client, project, endpoints):
    src, _dst = endpoints
    resp = _transfer(client, project, (src, src))
    assert resp.status_code == 400 and "must differ" in resp.get_json()["error"]["message"]


def test_executions_and_deployments_routes(client, project, endpoints, monkeypatch):
    sent = []
    monkeypatch.setattr("coriolis_tasks.control.submit", sent.append)
    tid = _transfer(client, project, endpoints).get_json()["transfer"]["id"]
    resp = client.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {"auto_deploy": True}})
    assert resp.status_code == 202
    execution = resp.get_json()["execution"]
    assert execution["number"] == 1 and execution["action_id"] == tid and execution["status"] == "PENDING"
    assert sent == [execution["id"]]
    again = client.post(f"/v1/{project}/transfers/{tid}/executions", json={"execution": {}})
    assert again.status_code == 409
    url = f"/v1/{project}/transfers/{tid}/executions/{execution['id']}"
    assert client.get(url).get_json()["execution"]["tasks"][0]["task_type"] == "GET_INSTANCE_INFO"
    assert client.delete(url).status_code == 409
    assert client.delete(f"/v1/{project}/transfers/{tid}").status_code == 409
    assert client.get(f"/v1/{project}/transfers/{tid}/executions/{uuid.uuid4()}").status_code == 404
    # executions and deployments never show up as migrations
    assert client.get(f"/v1/{project}/migrations").get_json()["migrations"] == []
    assert client.get(f"/v1/{project}/migrations/{execution['id']}").status_code == 404
    resp = client.post(f"/v1/{project}/deployments", json={"deployment": {"transfer_id": tid}})
    assert resp.status_code == 409 and "PENDING" in resp.get_json()["error"]["message"]
    resp = client.post(f"/v1/{project}/deployments", json={"deployment": {"transfer_id": str(uuid.uuid4())}})
    assert resp.status_code == 404
    assert client.post(f"/v1/{project}/deployments", json={"deployment": {}}).status_code == 400


def test_schedules_crud_and_cron_validation(client, project, endpoints):
    tid = _transfer(client, project, endpoints).get_json()["transfer"]["id"]
    base = f"/v1/{project}/transfers/{tid}/schedules"
    resp = client.post(base, json={"schedule": {"minute": "*/15", "hour": "1-5"}, "auto_deploy": True})
    assert resp.status_code == 201, resp.get_json()
    schedule = resp.get_json()["schedule"]
    assert schedule["schedule"] == {"minute": "*/15", "hour": "1-5"} and schedule["enabled"] is True
    sid = schedule["id"]
    resp = client.put(f"{base}/{sid}", json={"enabled": False, "schedule": {"dow": "1,3"}})
    assert resp.get_json()["schedule"]["schedule"] == {"dow": "1,3"} and resp.get_json()["schedule"]["enabled"] is False
    assert [s["id"] for s in client.get(base).get_json()["schedules"]] == [sid]
    for bad in ({"minute": "61"}, {"hour": "a"}, {"dow": "*/0"}, {"month": "0"}, {"dom": "5-2"}):
        resp = client.post(base, json={"schedule": bad})
        assert resp.status_code == 400, bad
    resp = client.post(base, json={"schedule": {}, "expiration_date": "2001-01-01T00:00:00Z"})
    assert resp.status_code == 400 and "future" in resp.get_json()["error"]["message"]
    assert client.delete(f"{base}/{sid}").status_code == 204
    assert client.get(f"{base}/{sid}").status_code == 404
