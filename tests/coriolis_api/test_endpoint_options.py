"""``/destination-options`` and ``/source-options``: the schema's fixed choices merged with what a provider's
``OptionLookup`` finds in its cloud (asked of a worker; here the worker's answer is given), ``?option_names=``
filtering, and a cloud's failure as a 502 in the API's error format."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from providers import netpolicy

OPENSTACK = {"auth_url": "http://127.0.0.1:5000/v3", "username": "u", "password": "s3cret-pw",
             "project_name": "p"}


@pytest.fixture(autouse=True)
def allow_loopback(client, monkeypatch):  # after the app configured its policy
    """The endpoint names a Keystone on 127.0.0.1 (never reached: the worker's answer is given)."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


def _endpoint(client, project: str, ptype: str, info: dict) -> str:
    body = {"endpoint": {"name": f"e-{uuid.uuid4().hex[:6]}", "type": ptype, "connection_info": info}}
    resp = client.post(f"/v1/{project}/endpoints", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["endpoint"]["id"]


def _upstream_shape(options: list[dict]) -> bool:
    """Upstream's options document: an array of ``{"name", "values", "config_default"?}`` and nothing else."""
    return all({"name", "values"} <= set(o) <= {"name", "values", "config_default"} and isinstance(o["name"], str)
               and isinstance(o["values"], list) for o in options)


def _worker(monkeypatch, answer: dict) -> list:
    asked = []

    def fake_ask(task_name, *args):
        asked.append((task_name, args))
        return answer

    monkeypatch.setattr("coriolis_api.resources.endpoints.service._ask", fake_ask)
    return asked


def test_cloud_choices_merge_with_the_schemas_in_schema_order(client, project, monkeypatch):
    looked_up = [{"name": "flavor_name", "values": ["m1.small", "m1.tiny"]},
                 {"name": "security_groups", "values": [{"id": "sg-1", "name": "default"}],
                  "config_default": "sg-1"},
                 {"name": "disk_bus", "values": ["ide"]}]  # a fixed choice stays the schema's
    asked = _worker(monkeypatch, {"ok": True, "value": looked_up})
    eid = _endpoint(client, project, "openstack", OPENSTACK)
    env = {"flavor_name": "m1.tiny", "title": "my transfer"}
    encoded = base64.b64encode(json.dumps(env).encode()).decode()
    resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options", query_string={"env": encoded})
    assert resp.status_code == 200, resp.get_json()
    options = resp.get_json()["destination_options"]
    assert _upstream_shape(options)
    assert [o["name"] for o in options] == ["flavor_name", "image_format", "container_format", "disk_bus",
                                            "security_groups"]
    shown = {o["name"]: o for o in options}
    assert shown["flavor_name"] == {"name": "flavor_name", "values": ["m1.small", "m1.tiny"]}
    assert shown["security_groups"]["config_default"] == "sg-1"
    assert shown["disk_bus"] == {"name": "disk_bus", "values": ["virtio", "scsi", "sata", "ide"],
                                 "config_default": "virtio"}
    assert asked == [("coriolis.control.lookup_options", (eid, "destination", env, None))]


def test_option_names_pick_and_reach_the_worker(client, project, monkeypatch):
    asked = _worker(monkeypatch, {"ok": True, "value": [{"name": "flavor_name", "values": ["m1.small"]}]})
    eid = _endpoint(client, project, "openstack", OPENSTACK)
    for arg in ("option_names", "options"):
        resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options?{arg}=flavor_name,disk_bus")
        assert [o["name"] for o in resp.get_json()["destination_options"]] == ["flavor_name", "disk_bus"]
    assert asked[-1] == ("coriolis.control.lookup_options", (eid, "destination", None, ["flavor_name", "disk_bus"]))


def test_a_cloud_failure_is_a_502_and_bad_env_a_400(client, project, monkeypatch):
    asked = _worker(monkeypatch, {"ok": False, "status": 502, "message": "looking up destination options failed: "
                                  "OpenStack: connecting to Keystone failed: 401"})
    eid = _endpoint(client, project, "openstack", OPENSTACK)
    resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options")
    assert resp.status_code == 502
    error = resp.get_json()["error"]
    assert error["code"] == 502 and "Keystone" in error["message"] and "s3cret-pw" not in resp.get_data(as_text=True)
    resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options", query_string={"env": "[1]"})
    assert resp.status_code == 400 and resp.get_json()["error"]["fault"] == "badRequest"
    assert len(asked) == 1  # a bad env never reaches a worker


def test_a_provider_without_the_ability_asks_no_worker(client, project, monkeypatch):
    asked = _worker(monkeypatch, {"ok": True, "value": []})
    eid = _endpoint(client, project, "stub", {})
    resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options")
    assert resp.status_code == 200 and resp.get_json()["destination_options"]
    assert asked == []
