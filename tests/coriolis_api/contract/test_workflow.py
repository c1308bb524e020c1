"""The clients' main workflow against the API and real workers (stub provider), every document checked.

Requests are the ones python-coriolisclient and coriolis-web make (``clients.py``); every instance info,
network, storage and mapping document served is validated against our JSON Schemas of upstream's formats.
"""

from __future__ import annotations

import uuid

import jsonschema
import pytest

from coriolis_api.documents import formats
from tests.coriolis_api.contract import clients
from tests.coriolis_tasks.helpers import wait_for

FINISHED = {"COMPLETED", "ERROR", "CANCELED"}


def check(name: str, document) -> None:
    """``document`` is valid in upstream's format ``name`` (our schema of it)."""
    jsonschema.Draft7Validator(formats.schema(name)).validate(document)


@pytest.fixture()
def project() -> str:
    return f"wf-{uuid.uuid4().hex[:8]}"


def _ok(resp, code: int = 200):
    assert resp.status_code == code, (resp.status_code, resp.get_json())
    return resp.get_json()


def test_endpoint_to_deployment_as_the_clients_drive_it(live_client, project, tmp_path):
    api = live_client
    base = f"/v1/{project}"
    src = _ok(api.post(f"{base}/endpoints", json=clients.endpoint_create(
        "src", "stub", {"instances": ["vm/app 1", "db-1"], "storage_backends": ["ds-a", "ds-b"]})), 201)["endpoint"]
    dst = _ok(api.post(f"{base}/endpoints", json=clients.endpoint_create(
        "dst", "stub", {"storage_dir": str(tmp_path), "networks": ["prod"]}, description=None)), 201)["endpoint"]
    assert _ok(api.post(f"{base}/endpoints/{src['id']}/actions", json=clients.VALIDATE))["validate-connection"][
        "valid"] is True

    # instances: listed, filtered by a regular expression, read by their base64 id (and by the literal one)
    listed = _ok(api.get(f"{base}/endpoints/{src['id']}/instances?name=^vm/"))["instances"]
    assert [i["name"] for i in listed] == ["vm/app 1"]
    env = clients.b64_json({"disks": 2, "disk_size_mb": 8})
    full = _ok(api.get(f"{base}/endpoints/{src['id']}/instances/{clients.b64('vm/app 1')}?env={env}"))["instance"]
    check("vm_export_info", full)
    assert full["name"] == "vm/app 1" and full["os_type"] in ("linux", "windows", "other")
    assert _ok(api.get(f"{base}/endpoints/{src['id']}/instances/db-1"))["instance"]["name"] == "db-1"

    # networks and storage of the destination with the GUI's whole environment form (plus its title)
    gui_env = clients.b64_json({"disk_format": "raw", "title": "nightly", "network_map": {}})
    networks = _ok(api.get(f"{base}/endpoints/{dst['id']}/networks?env={gui_env}"))["networks"]
    for network in networks:
        check("vm_network", network)
    storage = _ok(api.get(f"{base}/endpoints/{src['id']}/storage?env={gui_env}"))["storage"]
    check("vm_storage", storage)
    assert [b["name"] for b in storage["storage_backends"]] == ["ds-a", "ds-b"]

    # transfer create (the CLI's body), execute, watch, show
    body = clients.transfer_create(src["id"], dst["id"], ["vm/app 1"], source_environment={"disk_size_mb": 8},
                                   destination_environment={"network_map": {"stub-net": "prod"},
                                                            "storage_mappings": {"default": "ds-a"}})
    transfer = _ok(api.post(f"{base}/transfers", json=body), 201)["transfer"]
    tid = transfer["id"]
    check("network_map", transfer["network_map"])
    check("storage_mappings", transfer["storage_mappings"])
    execution = _ok(api.post(f"{base}/transfers/{tid}/executions", json=clients.execution_create()), 202)[
        "execution"]
    done = wait_for(api, project, execution["id"], lambda e: e["status"] in FINISHED, timeout=180,
                    path=f"transfers/{tid}/executions")
    assert done["status"] == "COMPLETED", done.get("last_error")
    assert clients.EXECUTION_KEYS <= set(done) and all(clients.TASK_KEYS <= set(t) for t in done["tasks"])
    assert sorted(t["index"] for t in done["tasks"]) == [t["index"] for t in sorted(done["tasks"],
                                                                                   key=lambda t: t["index"])]
    shown = _ok(api.get(f"{base}/transfers/{tid}"))["transfer"]
    assert clients.TRANSFER_KEYS <= set(shown) and shown["last_execution_status"] == "COMPLETED"
    info = shown["info"]["vm/app 1"]
    assert set(info) == {"export_info", "volumes_info"}
    check("vm_export_info", info["export_info"])
    check("volumes_info", info["volumes_info"])
    assert [v["disk_id"] for v in info["volumes_info"]] == [d["id"] for d in info["export_info"]["devices"]["disks"]]
    latest = _ok(api.get(f"{base}/transfers/{tid}/executions?sort_key=number&sort_dir=desc&limit=1"))
    assert [e["id"] for e in latest["executions"]] == [execution["id"]]
    assert [t["id"] for t in _ok(api.get(f"{base}/transfers?status=COMPLETED"))["transfers"]] == [tid]

    # deploy (the clients' body, with their nulls), watch, read the result
    deployment = _ok(api.post(f"{base}/deployments", json=clients.deployment_create(tid)), 202)["deployment"]
    finished = wait_for(api, project, deployment["id"], lambda d: d["status"] in FINISHED, timeout=180,
                        path="deployments")
    assert finished["status"] == "COMPLETED", finished.get("last_error")
    assert clients.DEPLOYMENT_KEYS <= set(finished) and finished["transfer_result"]["vm/app 1"]
    check("vm_export_info", finished["info"]["vm/app 1"]["export_info"])

    # schedules with integer fields: add, retime, list, delete
    schedules = f"{base}/transfers/{tid}/schedules"
    schedule = _ok(api.post(schedules, json=clients.schedule_create(30, 2)), 201)["schedule"]
    assert schedule["schedule"] == {"minute": 30, "hour": 2}
    retimed = _ok(api.put(f"{schedules}/{schedule['id']}", json={"schedule": {"minute": 45}, "enabled": False}))
    assert retimed["schedule"]["schedule"] == {"minute": 45} and retimed["schedule"]["enabled"] is False
    assert api.delete(f"{schedules}/{schedule['id']}").status_code == 204

    # update (answered with its execution), then the endpoint is refused while the transfer uses it
    updated = _ok(api.put(f"{base}/transfers/{tid}", json={"transfer": {"notes": "moved", "user_scripts": None}}))
    assert updated["execution"]["status"] == "COMPLETED" and updated["transfer"]["notes"] == "moved"
    assert api.delete(f"{base}/endpoints/{src['id']}").status_code == 409

    # delete: the deployment, then the transfer with its replica disks, then the endpoints
    assert api.delete(f"{base}/deployments/{deployment['id']}").status_code == 204
    assert api.delete(f"{base}/transfers/{tid}").status_code == 204
    assert not any(tmp_path.rglob(f"*{tid}*")), "the replica disks went with the transfer"
    assert api.delete(f"{base}/endpoints/{src['id']}").status_code == 204
    assert api.delete(f"{base}/endpoints/{dst['id']}").status_code == 204
