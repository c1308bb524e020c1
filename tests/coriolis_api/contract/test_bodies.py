"""The exact bodies python-coriolisclient and coriolis-web send are accepted, and every key they read is there.

No workers: runs are created and recorded, not executed (see ``test_workflow.py`` for the live run).
"""

from __future__ import annotations

import pytest

from tests.coriolis_api.contract import clients


@pytest.fixture()
def endpoints(client, project, tmp_path):
    src = client.post(f"/v1/{project}/endpoints",
                      json=clients.endpoint_create("src", "stub", {"instances": ["vm-1", "vm-2"]}))
    dst = client.post(f"/v1/{project}/endpoints",
                      json=clients.endpoint_create("dst", "stub", {"storage_dir": str(tmp_path), "password": "pw"}))
    assert src.status_code == 201 and dst.status_code == 201, (src.get_json(), dst.get_json())
    assert src.get_json()["endpoint"]["description"] == "" and src.get_json()["endpoint"]["mapped_regions"] == []
    return src.get_json()["endpoint"]["id"], dst.get_json()["endpoint"]["id"]


@pytest.fixture()
def transfer(client, project, endpoints):
    src, dst = endpoints
    resp = client.post(f"/v1/{project}/transfers", json=clients.transfer_create(src, dst, ["vm-1"]))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["transfer"]


def test_endpoint_keys_and_null_options(client, project, endpoints):
    shown = client.get(f"/v1/{project}/endpoints/{endpoints[1]}").get_json()["endpoint"]
    assert clients.ENDPOINT_KEYS <= set(shown)
    assert shown["connection_info"]["password"] == "***"


def test_transfer_create_as_the_cli_sends_it(client, project, transfer):
    assert clients.TRANSFER_KEYS <= set(transfer)
    assert transfer["notes"] == "" and transfer["user_scripts"] == {} and transfer["clone_disks"] is True
    assert transfer["reservation_id"] is None and transfer["origin_minion_pool_id"] is None
    assert transfer["instance_osmorphing_minion_pool_mappings"] == {} and transfer["scenario_type"] == "replica"


def test_transfer_create_as_the_gui_sends_it(client, project, endpoints):
    src, dst = endpoints
    body = clients.gui_transfer_create(
        src, dst, ["vm-2"], {"disks": 1}, {"disk_format": "raw"}, {"stub-net": "prod"},
        {"default": "fast", "backend_mappings": [{"source": "ds1", "destination": "slow"}], "disk_mappings": []})
    resp = client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()["transfer"]
    assert created["destination_environment"]["network_map"] == {"stub-net": "prod"}
    assert created["storage_mappings"]["default"] == "fast"


@pytest.mark.parametrize("key", ["origin_minion_pool_id", "destination_minion_pool_id"])
def test_a_minion_pool_is_refused_clearly(client, project, endpoints, key):
    body = clients.transfer_create(*endpoints, ["vm-1"])
    body["transfer"][key] = "3f1c2d4e-0000-4000-8000-000000000000"
    resp = client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 400 and "no minion pools" in resp.get_json()["error"]["message"]
    body["transfer"][key] = None
    assert client.post(f"/v1/{project}/transfers", json=body).status_code == 201


def test_user_scripts_are_normalised(client, project, endpoints):
    body = clients.transfer_create(*endpoints, ["vm-1"])
    body["transfer"]["user_scripts"] = {"global": {"linux": "echo a\r\necho b"},
                                        "instances": {"vm-1": [{"payload": "x", "phase": "replica_first_boot"}]}}
    shown = client.post(f"/v1/{project}/transfers", json=body).get_json()["transfer"]["user_scripts"]
    assert shown == {"global": {"linux": [{"phase": "osmorphing_post_os_mount", "payload": "echo a\necho b"}]},
                     "instances": {"vm-1": [{"phase": "replica_first_boot", "payload": "x"}]}}
    body["transfer"]["user_scripts"] = {"global": {"beos": "x"}}
    resp = client.post(f"/v1/{project}/transfers", json=body)
    assert resp.status_code == 400 and "beos" in resp.get_json()["error"]["message"]


def test_update_answers_with_an_execution_and_merges(client, project, transfer):
    tid = transfer["id"]
    update = {"transfer": {"notes": None, "destination_environment": {"disk_format": "raw"},
                           "storage_mappings": {"backend_mappings": [{"source": "a", "destination": "b"}]}}}
    resp = client.put(f"/v1/{project}/transfers/{tid}", json=update)
    assert resp.status_code == 200, resp.get_json()
    execution = resp.get_json()["execution"]
    assert clients.EXECUTION_KEYS <= set(execution)
    assert execution["status"] == "COMPLETED" and execution["action_id"] == tid
    assert execution["type"] == "transfer_update" and execution["tasks"] == []
    shown = client.get(f"/v1/{project}/transfers/{tid}").get_json()["transfer"]
    assert shown["destination_environment"]["disk_format"] == "raw"
    assert shown["storage_mappings"]["backend_mappings"] == [{"source": "a", "destination": "b"}]
    executions = client.get(f"/v1/{project}/transfers/{tid}/executions").get_json()["executions"]
    assert [e["id"] for e in executions] == [execution["id"]]
    assert client.get(f"/v1/{project}/transfers/{tid}/executions/{execution['id']}").status_code == 200


def test_delete_disks_answers_with_an_execution(client, project, transfer):
    resp = client.post(f"/v1/{project}/transfers/{transfer['id']}/actions", json=clients.DELETE_DISKS)
    assert resp.status_code == 200
    assert resp.get_json()["execution"]["type"] == "transfer_disks_delete"


def test_sort_keys_the_clients_ask_for(client, project, transfer):
    tid = transfer["id"]
    for n in range(3):
        client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"notes": f"n{n}"}})
    resp = client.get(f"/v1/{project}/transfers/{tid}/executions?sort_key=number&sort_dir=desc")
    assert resp.status_code == 200
    assert [e["number"] for e in resp.get_json()["executions"]] == [3, 2, 1]
    page = client.get(f"/v1/{project}/transfers/{tid}/executions?sort_key=number&sort_dir=desc&limit=1")
    marker = page.get_json()["executions"][0]["id"]
    rest = client.get(f"/v1/{project}/transfers/{tid}/executions?sort_key=number&sort_dir=desc&marker={marker}")
    assert [e["number"] for e in rest.get_json()["executions"]] == [2, 1]
    for path in ("transfers", "deployments", "endpoints"):
        resp = client.get(f"/v1/{project}/{path}?sort_key=updated_at&sort_dir=desc")
        assert resp.status_code == 200, (path, resp.get_json())
    assert [t["id"] for t in client.get(f"/v1/{project}/transfers?sort_key=updated_at").get_json()["transfers"]] == [
        tid]


def test_status_filters(client, project, transfer):
    tid = transfer["id"]
    assert client.get(f"/v1/{project}/transfers?status=COMPLETED").get_json()["transfers"] == []
    client.put(f"/v1/{project}/transfers/{tid}", json={"transfer": {"notes": "x"}})
    assert [e["status"] for e in client.get(
        f"/v1/{project}/transfers/{tid}/executions?status=COMPLETED").get_json()["executions"]] == ["COMPLETED"]
    assert client.get(f"/v1/{project}/transfers/{tid}/executions?status=ERROR").get_json()["executions"] == []
    assert client.get(f"/v1/{project}/deployments?status=RUNNING").get_json()["deployments"] == []
    assert client.get(f"/v1/{project}/deployments?status=NONSENSE").status_code == 400


def test_deployment_create_as_the_clients_send_it(client, project, transfer, dispatched):
    resp = client.post(f"/v1/{project}/deployments", json=clients.deployment_create(transfer["id"], force=True))
    assert resp.status_code == 202, resp.get_json()
    deployment = resp.get_json()["deployment"]
    assert clients.DEPLOYMENT_KEYS <= set(deployment)
    assert deployment["tasks"] and clients.TASK_KEYS <= set(deployment["tasks"][0])
    assert deployment["tasks"][0]["index"] >= 0 and deployment["transfer_scenario_type"] == "replica"


def test_execution_create_response_has_tasks(client, project, transfer):
    resp = client.post(f"/v1/{project}/transfers/{transfer['id']}/executions", json=clients.execution_create())
    assert resp.status_code == 202
    execution = resp.get_json()["execution"]
    assert clients.EXECUTION_KEYS <= set(execution) and execution["tasks"]


def test_schedules_with_integer_fields(client, project, transfer):
    base = f"/v1/{project}/transfers/{transfer['id']}/schedules"
    resp = client.post(base, json=clients.schedule_create(30, 2))
    assert resp.status_code == 201, resp.get_json()
    schedule = resp.get_json()["schedule"]
    assert clients.SCHEDULE_KEYS <= set(schedule) and schedule["schedule"] == {"minute": 30, "hour": 2}
    changed = client.put(f"{base}/{schedule['id']}", json={"schedule": {"minute": 5}, "expiration_date": None})
    assert changed.status_code == 200 and changed.get_json()["schedule"]["schedule"] == {"minute": 5}
    assert client.post(base, json=clients.schedule_create(61)).status_code == 400
    assert client.post(base, json={"schedule": {"minute": True}}).status_code == 400
    assert len(client.get(f"{base}?show_expired=false").get_json()["schedules"]) == 1


def test_an_endpoint_a_transfer_uses_is_not_deleted(client, project, endpoints, transfer):
    resp = client.delete(f"/v1/{project}/endpoints/{endpoints[0]}")
    assert resp.status_code == 409 and transfer["id"] in resp.get_json()["error"]["message"]
    assert client.delete(f"/v1/{project}/transfers/{transfer['id']}").status_code == 204
    assert client.delete(f"/v1/{project}/endpoints/{endpoints[0]}").status_code == 204


def test_connection_info_sent_back_masked_keeps_the_secret(client, project, endpoints):
    eid = endpoints[1]
    shown = client.get(f"/v1/{project}/endpoints/{eid}").get_json()["endpoint"]["connection_info"]
    resp = client.put(f"/v1/{project}/endpoints/{eid}", json={"endpoint": {"connection_info": shown,
                                                                              "description": None}})
    assert resp.status_code == 200, resp.get_json()
    from coriolis.database.models import Endpoint
    from coriolis.database.session import session_scope

    with session_scope(client.application.config["CORIOLIS_SETTINGS"].database_url) as s:
        assert s.get(Endpoint, eid).connection_info["password"] == "pw"
    bad = client.put(f"/v1/{project}/endpoints/{eid}", json={"endpoint": {"connection_info": {"host": "***"}}})
    assert bad.status_code == 400 and "host" in bad.get_json()["error"]["message"]


def test_minion_pools_are_an_empty_list_and_a_clear_error(client, project):
    assert client.get(f"/v1/{project}/minion_pools").get_json() == {"minion_pools": []}
    resp = client.get(f"/v1/{project}/minion_pools/3f1c2d4e-0000-4000-8000-000000000000")
    assert resp.status_code == 404 and "no minion pools" in resp.get_json()["error"]["message"]
    assert client.post(f"/v1/{project}/minion_pools", json={"minion_pool": {}}).status_code == 400
