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
