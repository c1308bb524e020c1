"""coriolis-web's flows as it drives them, request for request (recorded from the GUI in Chromium against this
API, Keystone and Barbican; see README "GUI check"): the exact bodies and query strings it sends, and every
key it reads back.
"""

from __future__ import annotations

import uuid

import pytest

from tests.coriolis_api.contract import clients
from tests.coriolis_tasks.helpers import wait_for

FINISHED = {"COMPLETED", "ERROR", "CANCELED"}


@pytest.fixture()
def project() -> str:
    return f"gui-{uuid.uuid4().hex[:8]}"


def _ok(resp, code: int = 200):
    assert resp.status_code == code, (resp.status_code, resp.get_json())
    return resp.get_json()


def gui_endpoint(name: str, ptype: str, connection_info: dict) -> dict:
    """``EndpointSource.add``: ``mapped_regions`` left out when none is chosen (axios drops ``undefined``)."""
    return {"endpoint": {"name": name, "description": f"{ptype} endpoint made in the GUI", "type": ptype,
                         "connection_info": connection_info}}


# the wizard's source options form, whole (every option with its default), as ?env= and source_environment
SOURCE_FORM = {"claim_format": "raw", "data_fraction": 0.5, "data_version": 0, "disk_size_mb": 16, "disks": 2,
               "fail_export": False, "rate_mbps": 0}
DESTINATION_FORM = {"disk_format": "qcow2", "fail_boot": False, "fail_import": False, "morph": False,
                    "rate_mbps": 0}


def test_the_wizard_reads_instances_with_its_source_options(live_client, project):
    """The "Select VMs" and "Networks"/"Storage" steps list and read instances with the source options form
    as ``?env=``: the instance's disks are the ones those options give (two here), so the disk mapping lists
    them all."""
    api, base = live_client, f"/v1/{project}"
    src = _ok(api.post(f"{base}/endpoints", json=gui_endpoint("stub-src", "stub", {"password": "x"})), 201)[
        "endpoint"]
    env = clients.b64_json(SOURCE_FORM)
    listed = _ok(api.get(f"{base}/endpoints/{src['id']}/instances?limit=100&env={env}"))["instances"]
    assert [i["instance_name"] for i in listed] == ["stub-vm-1", "stub-vm-2", "stub-vm-3"]
    assert {"id", "name", "instance_name", "num_cpu", "memory_mb", "os_type"} <= set(listed[0])
    shown = _ok(api.get(f"{base}/endpoints/{src['id']}/instances/{clients.b64('stub-vm-2')}?env={env}"))[
        "instance"]
    assert [d["id"] for d in shown["devices"]["disks"]] == ["disk0", "disk1"]
    assert [n["network_name"] for n in shown["devices"]["nics"]] == ["stub-net"]
    # options the provider does not use (the destination form's title) are ignored; a bad value is a 400
    extra = clients.b64_json({**SOURCE_FORM, "title": "nightly"})
    assert _ok(api.get(f"{base}/endpoints/{src['id']}/instances/{clients.b64('stub-vm-2')}?env={extra}"))
    bad = clients.b64_json({**SOURCE_FORM, "disks": "many"})
    resp = api.get(f"{base}/endpoints/{src['id']}/instances?limit=100&env={bad}")
    assert resp.status_code == 400 and "disks" in resp.get_json()["error"]["message"]


def _stub_transfer(api, base: str, tmp_path) -> str:
    src = _ok(api.post(f"{base}/endpoints", json=gui_endpoint("stub-src", "stub", {"password": "x"})), 201)
    dst = _ok(api.post(f"{base}/endpoints", json=gui_endpoint("stub-dst", "stub", {
        "password": "x", "storage_dir": str(tmp_path)})), 201)
    body = {"transfer": {"origin_endpoint_id": src["endpoint"]["id"], "destination_endpoint_id": dst["endpoint"]["id"],
                         "instances": ["stub-vm-2"], "network_map": {"stub-net": "stub-net"},
                         "storage_mappings": {"default": "stub-storage"}, "notes": "gui", "scenario": "replica"}}
    return _ok(api.post(f"{base}/transfers", json=body), 201)["transfer"]["id"]


def test_the_schedule_tab_adds_retimes_enables_and_deletes(client, settings, project, tmp_path):
    """The Schedule tab: "Add Schedule" posts midnight, disabled; picking Monday, 03 and 30 and saving sends the
    whole schedule back with the day as upstream numbers it (Monday is 0), which must fire on a Monday; the
    switch and the options dialog send one field each."""
    from datetime import datetime

    from coriolis.database.models import Schedule
    from coriolis.database.session import session_scope
    from coriolis_tasks import schedules

    base = f"/v1/{project}"
    url = f"{base}/transfers/{_stub_transfer(client, base, tmp_path)}/schedules"
    added = _ok(client.post(url, json={"schedule": {"hour": 0, "minute": 0}, "enabled": False}), 201)["schedule"]
    assert clients.SCHEDULE_KEYS <= set(added)
    assert added["schedule"] == {"hour": 0, "minute": 0} and added["enabled"] is False
    sid = added["id"]
    saved = _ok(client.put(f"{url}/{sid}", json={"enabled": False, "shutdown_instance": False, "auto_deploy": False,
                                                 "schedule": {"hour": 3, "minute": 30, "dow": 0}}))["schedule"]
    assert saved["schedule"] == {"hour": 3, "minute": 30, "dow": 0}  # read back into the "Monday" dropdown
    with session_scope(settings.database_url) as s:
        stored = s.get(Schedule, sid)
        monday, sunday = datetime(2026, 11, 30, 3, 30), datetime(2026, 11, 29, 3, 30)
        assert schedules.matches(stored, monday) and not schedules.matches(stored, sunday)
    assert _ok(client.put(f"{url}/{sid}", json={"enabled": True}))["schedule"]["enabled"] is True
    options = _ok(client.put(f"{url}/{sid}", json={"shutdown_instance": False, "auto_deploy": True}))["schedule"]
    assert options["auto_deploy"] is True and options["schedule"]["dow"] == 0
    assert _ok(client.get(url))["schedules"][0]["schedule"] == {"hour": 3, "minute": 30, "dow": 0}
    # every upstream day number round-trips; cron text keeps cron's numbering (1 is Monday there)
    for day in range(7):
        assert _ok(client.put(f"{url}/{sid}", json={"schedule": {"dow": day}}))["schedule"]["schedule"]["dow"] == day
    assert _ok(client.put(f"{url}/{sid}", json={"schedule": {"dow": "1-5"}}))["schedule"]["schedule"]["dow"] == "1-5"
    assert _ok(client.put(f"{url}/{sid}", json={"schedule": {"dow": "1"}}))["schedule"]["schedule"]["dow"] == 0
    resp = client.put(f"{url}/{sid}", json={"schedule": {"dow": 7}})
    assert resp.status_code == 400 and "0 (Monday) to 6 (Sunday)" in resp.get_json()["error"]["message"]
    assert _ok(client.put(f"{url}/{sid}", json={"enabled": False}))["schedule"]["enabled"] is False
    assert client.delete(f"{url}/{sid}").status_code == 204
    assert _ok(client.get(url))["schedules"] == []


def test_wizard_execute_deploy_and_delete_as_the_gui_sends_them(live_client, project, tmp_path):
    """The wizard's transfer (live migration, both maps, the whole option forms), its execution, "Edit" (a
    partial ``source_environment`` merged into the stored one), "Create Deployment" (``user_scripts: {}``,
    pool mappings ``null``; refused after a cancelled execution unless forced), the deployment page (it reads
    ``transfer_result[instance].devices`` and ``instance_name``), then "Delete Disks" and "Delete"."""
    api, base = live_client, f"/v1/{project}"
    src = _ok(api.post(f"{base}/endpoints", json=gui_endpoint("stub-src", "stub", {"password": "x"})), 201)[
        "endpoint"]
    dst = _ok(api.post(f"{base}/endpoints", json=gui_endpoint("stub-dst", "stub", {
        "password": "x", "storage_dir": str(tmp_path)})), 201)["endpoint"]
    body = {"transfer": {
        "origin_endpoint_id": src["id"], "destination_endpoint_id": dst["id"],
        "network_map": {"stub-net": "stub-net"}, "instances": ["stub-vm-2"],
        "storage_mappings": {"default": "stub-storage",
                             "backend_mappings": [{"source": "stub-storage", "destination": "stub-storage"}],
                             "disk_mappings": [{"disk_id": "disk1", "destination": "stub-storage"}]},
        "notes": "gui stub-vm-2", "source_environment": SOURCE_FORM, "destination_environment": DESTINATION_FORM,
        "clone_disks": True, "skip_os_morphing": False, "scenario": "live_migration"}}
    transfer = _ok(api.post(f"{base}/transfers", json=body), 201)["transfer"]
    tid = transfer["id"]
    assert clients.TRANSFER_KEYS <= set(transfer) and transfer["scenario"] == "live_migration"
    assert transfer["storage_mappings"]["disk_mappings"] == [{"disk_id": "disk1", "destination": "stub-storage"}]
    run = _ok(api.post(f"{base}/transfers/{tid}/executions", json=clients.execution_create()), 202)["execution"]
    done = wait_for(api, project, run["id"], lambda e: e["status"] in FINISHED, timeout=180,
                    path=f"transfers/{tid}/executions")
    assert done["status"] == "COMPLETED", done.get("last_error")
    export = _ok(api.get(f"{base}/transfers/{tid}"))["transfer"]["info"]["stub-vm-2"]["export_info"]
    assert [d["storage_backend_identifier"] for d in export["devices"]["disks"]] == ["stub-storage"] * 2

    edited = _ok(api.put(f"{base}/transfers/{tid}", json={"transfer": {
        "source_environment": {"disk_size_mb": 8}, "storage_mappings": {"default": "stub-storage"}}}))
    assert edited["execution"]["status"] == "COMPLETED"
    shown = _ok(api.get(f"{base}/transfers/{tid}"))["transfer"]
    assert shown["source_environment"] == {**SOURCE_FORM, "disk_size_mb": 8}

    deploy = {"deployment": {"transfer_id": tid, "clone_disks": True, "force": False, "skip_os_morphing": False,
                             "user_scripts": {}, "instance_osmorphing_minion_pool_mappings": None}}
    deployment = _ok(api.post(f"{base}/deployments", json=deploy), 202)["deployment"]
    finished = wait_for(api, project, deployment["id"], lambda d: d["status"] in FINISHED, timeout=180,
                        path="deployments")
    assert finished["status"] == "COMPLETED", finished.get("last_error")
    page = _ok(api.get(f"{base}/deployments/{deployment['id']}"))["deployment"]
    assert clients.DEPLOYMENT_KEYS <= set(page)
    result = page["transfer_result"]["stub-vm-2"]
    assert result["instance_name"] and set(result["devices"]) == {"disks", "nics"}
    assert [d["id"] for d in result["devices"]["disks"]] == ["disk0", "disk1"]
    assert all(d["size_bytes"] == 16 << 20 and d["format"] == "qcow2" for d in result["devices"]["disks"])
    assert _ok(api.get(f"{base}/deployments?limit=25"))["deployments"][0]["transfer_result"]["stub-vm-2"][
        "devices"]["nics"] == []

    assert api.delete(f"{base}/deployments/{deployment['id']}").status_code == 204
    deleted_disks = _ok(api.post(f"{base}/transfers/{tid}/actions", json=clients.DELETE_DISKS))["execution"]
    assert deleted_disks["status"] == "COMPLETED" and clients.EXECUTION_KEYS <= set(deleted_disks)
    assert api.delete(f"{base}/transfers/{tid}").status_code == 204
    assert api.delete(f"{base}/endpoints/{src['id']}").status_code == 204
