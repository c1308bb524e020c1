"""Requests the ``coriolis`` command of python-coriolisclient sends, exactly, where a run of its commands against
this API once went wrong: option names asked for by ``--options``, a kvm endpoint configured for one role only, an
instance that is not there, and the service list the command sorts.

Every key the command reads back is asserted (``coriolisclient/cli/*.py`` formatters, ``coriolisclient/v1``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.coriolis_api.contract import clients


@pytest.fixture()
def project() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


def _endpoint(api, project: str, ptype: str, info: dict) -> str:
    resp = api.post(f"/v1/{project}/endpoints", json=clients.endpoint_create(f"{ptype}-e", ptype, info))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["endpoint"]["id"]


def _options(api, project: str, eid: str, role: str, query: str) -> list[dict]:
    resp = api.get(f"/v1/{project}/endpoints/{eid}/{role}-options?{query}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()[f"{role}_options"]


def test_options_named_by_the_cli_are_a_base64_json_list(client, project):
    """``endpoint destination options list E --options a b [--environment ...]`` sends ``options=`` as URL-safe
    base64 of ``["a", "b"]`` (after ``env=`` when given); the listed options are those, with the keys the
    formatter reads (name, values, config_default)."""
    eid = _endpoint(client, project, "stub", {})
    asked = _options(client, project, eid, "destination", f"options={clients.b64_json(['disk_format'])}")
    assert asked == [{"name": "disk_format", "values": ["raw", "qcow2", "vmdk", "vhdx"], "config_default": "qcow2"}]
    with_env = _options(client, project, eid, "destination",
                        f"env={clients.b64_json({'disk_format': 'raw'})}&options={clients.b64_json(['disk_format'])}")
    assert [o["name"] for o in with_env] == ["disk_format"]
    source = _options(client, project, eid, "source", f"options={clients.b64_json(['claim_format'])}")
    assert source == [{"name": "claim_format", "values": ["raw", "qcow2", "vmdk"], "config_default": "raw"}]
    # a name the provider does not have: nothing listed (not every option)
    assert _options(client, project, eid, "destination", f"options={clients.b64_json(['nonesuch'])}") == []
    # the comma-separated form stays understood
    assert [o["name"] for o in _options(client, project, eid, "source", "options=claim_format")] == ["claim_format"]


def test_a_kvm_endpoint_for_one_role_validates_and_lists_in_that_role(live_client, project, tmp_path):
    """``endpoint create`` validates right after creating; a kvm destination (only ``storage_dir``) and a kvm
    source (only ``domains_dir``) are valid; ``endpoint network list``/``storage list`` of the destination list
    its networks and storage directory."""
    api = live_client
    (tmp_path / "domains").mkdir()
    dst = _endpoint(api, project, "kvm", {"storage_dir": str(tmp_path / "dst")})
    src = _endpoint(api, project, "kvm", {"domains_dir": str(tmp_path / "domains")})
    gone = _endpoint(api, project, "kvm", {"domains_dir": str(tmp_path / "missing")})
    for eid, valid, role in ((dst, True, "destination"), (src, True, "source"), (gone, False, None)):
        resp = api.post(f"/v1/{project}/endpoints/{eid}/actions", json=clients.VALIDATE)
        assert resp.status_code == 200, resp.get_json()
        answer = resp.get_json()["validate-connection"]
        assert answer["valid"] is valid, answer
        # valid in one role: the message says which, and why it is not the other
        assert answer["message"].startswith(f"valid as a {role} only (") if valid else answer["message"], answer
    resp = api.post(f"/v1/{project}/endpoints/{gone}/actions", json=clients.VALIDATE)
    assert "is not a readable directory" in resp.get_json()["validate-connection"]["message"]

    networks = api.get(f"/v1/{project}/endpoints/{dst}/networks")
    assert networks.status_code == 200, networks.get_json()
    assert [(n["id"], n["name"]) for n in networks.get_json()["networks"]] == [("user", "user"), ("none", "none")]
    storage = api.get(f"/v1/{project}/endpoints/{dst}/storage")
    assert storage.status_code == 200, storage.get_json()
    backends = storage.get_json()["storage"]["storage_backends"]
    assert [b["name"] for b in backends] == ["dst"] and backends[0]["id"] == str(tmp_path / "dst")
    # a source-only kvm endpoint has no destination networks: a 400 saying what is missing
    resp = api.get(f"/v1/{project}/endpoints/{src}/networks")
    assert resp.status_code == 400 and "storage_dir" in resp.get_json()["error"]["message"]


def test_an_instance_not_found_is_named_as_asked(live_client, project):
    """``endpoint instance show E nosuch`` sends the id in URL-safe base64; the 404 names ``nosuch``."""
    eid = _endpoint(live_client, project, "stub", {"instances": ["vm-1"]})
    resp = live_client.get(f"/v1/{project}/endpoints/{eid}/instances/{clients.b64('nosuch')}")
    assert resp.status_code == 404, resp.get_json()
    message = resp.get_json()["error"]["message"]
    assert "nosuch" in message and clients.b64("nosuch") not in message
    found = live_client.get(f"/v1/{project}/endpoints/{eid}/instances/{clients.b64('vm-1')}")
    assert found.status_code == 200 and found.get_json()["instance"]["name"] == "vm-1"


SERVICE_KEYS = {"id", "host", "binary", "topic", "enabled", "status", "mapped_regions", "created_at", "updated_at"}


def test_services_can_be_sorted_by_created_at_as_the_cli_does(live_client, project):
    """``service list`` sorts by ``created_at`` (``None`` cannot be compared) and shows ISO times like every
    other resource."""
    services = live_client.get(f"/v1/{project}/services").get_json()["services"]
    assert len(services) >= 2, services
    for service in services:
        assert SERVICE_KEYS <= set(service), service
        for key in ("created_at", "updated_at"):
            parsed = datetime.fromisoformat(service[key])
            assert parsed.tzinfo is None and service[key] == parsed.isoformat()
        assert service["created_at"] <= service["updated_at"]
    ordered = sorted(services, key=lambda s: s["created_at"])
    assert {s["id"] for s in ordered} == {s["id"] for s in services}
    up = [s for s in services if s["status"] == "UP"]
    assert up and all(s["topic"] for s in up)
    shown = live_client.get(f"/v1/{project}/services/{up[0]['id']}").get_json()["service"]
    assert SERVICE_KEYS <= set(shown) and shown["created_at"]
