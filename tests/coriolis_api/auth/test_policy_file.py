"""A policy file changes what Keystone users may do, but never opens another project."""

from __future__ import annotations

import json

import pytest

from tests.coriolis_api.auth.conftest import STUB_FOR_MEMBERS
from tests.coriolis_api.auth.routes import ENDPOINT_BODY
from tests.coriolis_tasks.helpers import stub_migration


def _migration(client, project, headers):
    resp = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-1"]), headers=headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["migration"]["id"]


def test_a_policy_file_can_forbid_delete_to_members(make_client, tenants, tokens, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"endpoint:delete": "rule:context_is_admin", **STUB_FOR_MEMBERS}))
    client = make_client(policy_file=str(policy))
    a = tenants.project_a
    eid = client.post(f"/v1/{a}/endpoints", json=ENDPOINT_BODY, headers=tokens["alice"]).get_json()["endpoint"]["id"]
    resp = client.delete(f"/v1/{a}/endpoints/{eid}", headers=tokens["alice"])
    assert resp.status_code == 403 and resp.get_json()["error"] == {
        "code": 403, "fault": "forbidden", "message": "policy does not allow endpoint:delete"}
    assert client.get(f"/v1/{a}/endpoints/{eid}", headers=tokens["alice"]).status_code == 200
    assert client.delete(f"/v1/{a}/endpoints/{eid}", headers=tokens["admin"]).status_code == 204
    # the same app without the file: members may delete
    other = make_client().post(f"/v1/{a}/endpoints", json=ENDPOINT_BODY, headers=tokens["alice"])
    assert make_client().delete(f"/v1/{a}/endpoints/{other.get_json()['endpoint']['id']}",
                                headers=tokens["alice"]).status_code == 204


def test_a_yaml_policy_can_make_a_read_only_role(make_client, tenants, tmp_path):
    """Carol holds only ``reader`` on A: she may list and show but not create or cancel."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "member_or_admin: role:admin or (role:member and project_id:%(project_id)s)\n"
        "migration:create: rule:member_or_admin\n"
        "migration:cancel: rule:member_or_admin\n"
        "provider:stub:use: rule:admin_or_owner\n"
    )
    client = make_client(policy_file=str(policy))
    a, carol = tenants.project_a, tenants.headers("carol")
    mid = _migration(client, a, tenants.headers("alice"))
    assert client.get(f"/v1/{a}/migrations/{mid}", headers=carol).status_code == 200
    assert client.post(f"/v1/{a}/migrations", json=stub_migration(["vm-1"]), headers=carol).status_code == 403
    assert client.post(f"/v1/{a}/migrations/{mid}/actions", json={"cancel": None}, headers=carol).status_code == 403


def test_a_permissive_policy_does_not_open_other_projects(make_client, tenants, tokens, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": "@", "migration:list": "@", "migration:show": "@", **STUB_FOR_MEMBERS}))
    client = make_client(policy_file=str(policy))
    mid = _migration(client, tenants.project_a, tokens["alice"])
    assert client.get(f"/v1/{tenants.project_a}/migrations", headers=tokens["bob"]).status_code == 403
    assert client.get(f"/v1/{tenants.project_a}/migrations/{mid}", headers=tokens["bob"]).status_code == 403
    assert client.get(f"/v1/{tenants.project_b}/migrations/{mid}", headers=tokens["bob"]).status_code == 404


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"migration:delete": "role:admin or"}', "ends too early"),
        ('{"migration:delete": "rule:nobody"}', "unknown rule 'nobody'"),
        ('{"migration:delete": ["role:admin"]}', "rule strings"),
        ("{broken", "not valid JSON"),
    ],
)
def test_a_bad_policy_file_stops_the_start(make_client, tmp_path, text, needle):
    policy = tmp_path / "policy.json"
    policy.write_text(text)
    with pytest.raises(ValueError, match=needle):
        make_client(policy_file=str(policy))


def test_a_missing_policy_file_stops_the_start(make_client, tmp_path):
    with pytest.raises(ValueError, match="cannot read policy_file"):
        make_client(policy_file=str(tmp_path / "absent.json"))
