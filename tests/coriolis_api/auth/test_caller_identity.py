"""Runs with the caller's own identity (``use_caller_identity``): a Keystone trust per run, through the real API.

Keystone and Glance are real; Nova, Neutron and Cinder are the hand-written fake (no emulator exists).
The worker's side runs in this process: the destination is built as a stage would build it, and the
real cleanup task ends the run.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
from sqlalchemy import text

from coriolis import trusts
from coriolis.database.models import Migration, Task
from coriolis.database.session import session_scope
from providers import netpolicy
from tests.fixtures.glance import glance  # noqa: F401 (session fixture)
from tests.fixtures.openstack_fake import openstack_fake  # noqa: F401 (session fixture)

STUB_ORIGIN = {"type": "stub", "connection_info": {}}


@pytest.fixture
def api(make_client, monkeypatch):
    """The API behind the real auth_token middleware; worker code in this process uses its settings."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))
    client = make_client(allow_private_endpoints=True)
    conf = client.application.config["CORIOLIS_SETTINGS"]
    for module in ("coriolis_tasks.control", "coriolis_tasks.connections"):
        monkeypatch.setattr(f"{module}.get_settings", lambda: conf)
    monkeypatch.setattr("coriolis_tasks.control.submit", lambda _id: None)
    return client


@contextlib.contextmanager
def quiet():
    """The test's own calls to Keystone and Glance log nothing: the log checks are about the service's."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _caller_info(keystone) -> dict:
    return {"auth_url": keystone.url, "use_caller_identity": True}


def _endpoint(api, project: str, headers: dict, info: dict, ptype: str = "openstack"):
    body = {"endpoint": {"name": f"{ptype}-ep", "type": ptype, "connection_info": info}}
    return api.post(f"/v1/{project}/endpoints", json=body, headers=headers)


def _trusts_of(keystone, user_id: str) -> dict[str, dict]:
    with quiet():
        found = keystone._call("GET", f"/OS-TRUST/trusts?trustor_user_id={user_id}").json()["trusts"]
    return {t["id"]: t for t in found}


def _user_id(keystone, token: str) -> str:
    with quiet():
        return keystone._call("GET", "/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]["user"]["id"]


def _row(api, run_id: str) -> tuple[str | None, str]:
    """The run's trust id, and the raw stored text of its destination connection info."""
    url = api.application.config["CORIOLIS_SETTINGS"].database_url
    with session_scope(url) as s:
        run = s.get(Migration, run_id)
        raw = s.execute(text("SELECT destination_connection_info FROM migrations WHERE id = :i"), {"i": run_id})
        return trusts.stored_trust(run), str(raw.scalar())


def test_alices_migration_runs_with_her_identity_through_a_trust_gone_afterwards(
    api, keystone, tenants, glance, openstack_fake, caplog  # noqa: F811
):
    caplog.set_level(logging.DEBUG)
    with quiet():
        token = tenants.token("alice")
        bob = tenants.headers("bob")
    alice, a = {"X-Auth-Token": token}, tenants.project_a
    alice_id = _user_id(keystone, token)
    endpoint = _endpoint(api, a, alice, _caller_info(keystone))
    assert endpoint.status_code == 201, endpoint.get_json()
    assert endpoint.get_json()["endpoint"]["connection_info"] == {"auth_url": "***", "use_caller_identity": True}
    before = _trusts_of(keystone, alice_id)

    body = {"migration": {"origin": STUB_ORIGIN, "destination_endpoint_id": endpoint.get_json()["endpoint"]["id"],
                          "instances": ["vm-1"]}}
    resp = api.post(f"/v1/{a}/migrations", json=body, headers=alice)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    (trust_id,) = set(_trusts_of(keystone, alice_id)) - set(before)
    with quiet():
        trust = keystone._call("GET", f"/OS-TRUST/trusts/{trust_id}").json()["trust"]
    assert trust["project_id"] == a and trust["impersonation"] is True
    assert trust["trustee_user_id"] == trusts.service_user_id(api.application.config["CORIOLIS_SETTINGS"])
    assert {r["name"] for r in trust["roles"]} >= {"member"}
    stored, raw = _row(api, mid)
    assert stored == trust_id and trust_id not in raw and token not in raw  # encrypted at rest

    shown = api.get(f"/v1/{a}/migrations/{mid}", headers=alice)
    assert shown.status_code == 200 and shown.get_json()["migration"]["destination"]["connection_info"] == {}
    listed = api.get(f"/v1/{a}/migrations/detail", headers=alice)
    for answer in (resp, shown, listed):
        assert trust_id not in answer.get_data(as_text=True) and token not in answer.get_data(as_text=True)
    # bob cannot see nor act on alice's run, in her project or through his
    assert api.get(f"/v1/{a}/migrations/{mid}", headers=bob).status_code == 403
    assert api.get(f"/v1/{tenants.project_b}/migrations/{mid}", headers=bob).status_code == 404
    assert api.post(f"/v1/{tenants.project_b}/migrations/{mid}/actions", json={"cancel": None},
                    headers=bob).status_code == 404

    # the worker builds the destination as a stage does: logged in through the trust, it acts as alice
    from coriolis_tasks import connections, control

    conf = api.application.config["CORIOLIS_SETTINGS"]
    with session_scope(conf.database_url) as s:
        importer = connections.importer_for(s, s.get(Migration, mid))
    image_id = importer.cloud.create_image(
        f"coriolis-{mid}", "qcow2", "bare", {"coriolis_migration_id": mid, "coriolis_instance": "vm-1"}
    )
    with quiet():
        images = {i["id"]: i for i in glance.images(token)}
    assert images[image_id]["owner"] == a

    # the run ends (here cancelled): cleanup removes the image through the trust, then deletes the trust
    control.cleanup(mid, "CANCELED")
    with session_scope(conf.database_url) as s:
        run = s.get(Migration, mid)
        assert run.status == "CANCELED"
        cleanup_task = next(t for t in s.query(Task).filter_by(migration_id=mid) if t.on_error)
        events = [e.message for e in cleanup_task.events]
    assert "destination resources of 'vm-1' removed" in events, events
    with quiet():
        assert image_id not in {i["id"] for i in glance.images(token)}
    assert trust_id not in _trusts_of(keystone, alice_id)
    assert _row(api, mid)[0] is None
    control.cleanup(mid, "CANCELED")  # a repeated cleanup finds nothing more to do

    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert trust_id not in logged and token not in logged


def test_a_non_keystone_api_refuses_the_callers_identity(make_client, keystone, tenants, monkeypatch):
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))
    api = make_client(auth_strategy="noauth", allow_private_endpoints=True)
    resp = _endpoint(api, "p1", {}, _caller_info(keystone))
    assert resp.status_code == 400
    assert resp.get_json()["error"]["fault"] == "badRequest"
    assert "auth_strategy keystone" in resp.get_json()["error"]["message"]
    inline = {"migration": {"origin": STUB_ORIGIN, "instances": ["vm-1"],
                            "destination": {"type": "openstack", "connection_info": _caller_info(keystone)}}}
    resp = api.post("/v1/p1/migrations", json=inline)
    assert resp.status_code == 400 and "auth_strategy keystone" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"auth_url": "http://127.0.0.1:1/v3", "use_caller_identity": True}, "auth_url of the Keystone this API"),
        ({"use_caller_identity": True, "username": "alice", "password": "x"}, "use_caller_identity takes no"),
        ({"use_caller_identity": "yes"}, "not a boolean"),
        ({"use_caller_identity": True, trusts.TRUST_KEY: "0123"}, "set by the service"),
    ],
    ids=["other-keystone", "credentials", "not-boolean", "names-a-trust"],
)
def test_bad_uses_of_the_callers_identity_are_400(api, keystone, tenants, info, message):
    info = {"auth_url": keystone.url, **info}
    resp = _endpoint(api, tenants.project_a, tenants.headers("alice"), info)
    assert resp.status_code == 400, resp.get_json()
    assert message in resp.get_json()["error"]["message"]


def test_inline_destination_and_an_admin_outside_her_token_project(api, keystone, tenants):
    a, token = tenants.project_a, tenants.token("alice")
    alice_id = _user_id(keystone, token)
    before = set(_trusts_of(keystone, alice_id))
    inline = {"migration": {"origin": STUB_ORIGIN, "instances": ["vm-1"],
                            "destination": {"type": "openstack", "connection_info": _caller_info(keystone)}}}
    resp = api.post(f"/v1/{a}/migrations", json=inline, headers={"X-Auth-Token": token})
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    assert resp.get_json()["migration"]["destination"]["connection_info"] == {
        "auth_url": "***", "use_caller_identity": True}
    (trust_id,) = set(_trusts_of(keystone, alice_id)) - before
    assert _row(api, mid)[0] == trust_id
    assert trusts.release(api.application.config["CORIOLIS_SETTINGS"], mid) is True
    assert set(_trusts_of(keystone, alice_id)) == before and _row(api, mid)[0] is None

    # an admin may act in project A, but her token (and roles) are the admin project's
    resp = api.post(f"/v1/{a}/migrations", json=inline, headers=tenants.headers("admin"))
    assert resp.status_code == 400 and "token scoped to project" in resp.get_json()["error"]["message"]


def test_an_execution_gets_a_trust_its_automatic_deployment_takes_over(api, keystone, tenants):
    from coriolis_tasks import transfers

    a, token = tenants.project_a, tenants.token("alice")
    headers, alice_id = {"X-Auth-Token": token}, _user_id(keystone, token)
    source = _endpoint(api, a, headers, {"instances": ["vm-1"]}, ptype="stub").get_json()["endpoint"]["id"]
    dest = _endpoint(api, a, headers, _caller_info(keystone)).get_json()["endpoint"]["id"]
    body = {"transfer": {"origin_endpoint_id": source, "destination_endpoint_id": dest, "instances": ["vm-1"]}}
    transfer = api.post(f"/v1/{a}/transfers", json=body, headers=headers)
    assert transfer.status_code in (200, 201, 202), transfer.get_json()
    tid = transfer.get_json()["transfer"]["id"]
    before = set(_trusts_of(keystone, alice_id))
    resp = api.post(f"/v1/{a}/transfers/{tid}/executions", json={"execution": {"auto_deploy": True}}, headers=headers)
    assert resp.status_code == 202, resp.get_json()
    eid = resp.get_json()["execution"]["id"]
    (trust_id,) = set(_trusts_of(keystone, alice_id)) - before
    assert _row(api, eid)[0] == trust_id and trust_id not in resp.get_data(as_text=True)

    conf = api.application.config["CORIOLIS_SETTINGS"]
    with session_scope(conf.database_url) as s:
        s.get(Migration, eid).status = "COMPLETED"
    transfers.after_completion(conf, eid)  # starts the automatic deployment (submit is not sent here)
    assert trusts.release(conf, eid) is True  # nothing left to release: the deployment holds the trust
    with session_scope(conf.database_url) as s:
        deployment = s.query(Migration).filter_by(transfer_id=tid, type="deployment").one()
        deployment_id = deployment.id
    assert _row(api, eid)[0] is None and _row(api, deployment_id)[0] == trust_id
    assert trust_id in _trusts_of(keystone, alice_id)
    assert trusts.release(conf, deployment_id) is True
    assert trust_id not in _trusts_of(keystone, alice_id)
