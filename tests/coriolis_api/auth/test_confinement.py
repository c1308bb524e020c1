"""Issue 16's exploits, as project members on a real Keystone: no host path, binary or firmware file a
tenant names is reached. Each answers 403 or 400 in the API's error format, and sentinel files keep
their checksums (nothing written), and nothing is created where the tenant pointed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.coriolis_api.auth.conftest import STUB_FOR_MEMBERS
from tests.coriolis_tasks.helpers import stub_migration

LOCAL_FOR_MEMBERS = {f"provider:{k}:use": "rule:admin_or_owner" for k in ("ova", "kvm", "stub")}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def host(tmp_path) -> dict[str, Path]:
    """A library with a folder per project, kvm and stub roots, and sentinel files outside them all."""
    lib = tmp_path / "library"
    for sub in ("kvm", "stub"):
        (lib / sub).mkdir(parents=True)
    victim = tmp_path / "host"
    victim.mkdir()
    (victim / "shadow").write_text("root:$6$secret:19000:0:99999:7:::\n")
    (victim / "power").write_text("on\n")
    return {"lib": lib, "victim": victim}


@pytest.fixture()
def sentinels(host):
    """Checks, after the test, that no sentinel changed and nothing new appeared beside them."""
    before = {p.name: _digest(p) for p in host["victim"].iterdir()}
    yield
    assert {p.name: _digest(p) for p in host["victim"].iterdir()} == before


def _client(make_client, host, tmp_path, rules: dict[str, str] | None = None):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(rules or {}))
    lib = host["lib"]
    roots = f"ova={lib}/ova/{{project_id}},kvm={lib}/kvm/{{project_id}},stub={lib}/stub"
    return make_client(policy_file=str(policy), local_paths=roots)


def _assert_error(resp, code: int, *needles: str) -> None:
    assert resp.status_code == code, (resp.status_code, resp.get_json())
    error = resp.get_json()["error"]
    assert error["code"] == code and error["fault"] == ("forbidden" if code == 403 else "badRequest")
    for needle in needles:
        assert needle in error["message"], error["message"]


def _endpoint(ptype: str, info: dict) -> dict:
    return {"endpoint": {"name": "e", "type": ptype, "connection_info": info}}


def test_local_providers_are_for_admins_by_default(make_client, host, tmp_path, tenants, tokens, sentinels):
    client = _client(make_client, host, tmp_path)
    a = tenants.project_a
    (host["lib"] / "ova" / a).mkdir(parents=True)
    for ptype, info in (("ova", {"path": str(host["lib"] / "ova" / a)}),
                        ("kvm", {"storage_dir": str(host["lib"] / "kvm" / a)}),
                        ("stub", {})):
        resp = client.post(f"/v1/{a}/endpoints", json=_endpoint(ptype, info), headers=tokens["alice"])
        _assert_error(resp, 403, f"provider:{ptype}:use")
    body = stub_migration(["vm-1"])
    _assert_error(client.post(f"/v1/{a}/migrations", json=body, headers=tokens["alice"]), 403, "provider:stub:use")
    # an admin may, within the roots
    resp = client.post(f"/v1/{a}/endpoints", json=_endpoint("ova", {"path": str(host["lib"] / "ova" / a)}),
                       headers=tokens["admin"])
    assert resp.status_code == 201, resp.get_json()


def test_another_projects_library_is_out_of_reach(make_client, host, tmp_path, tenants, tokens, sentinels):
    """Even where the operator lets members use ova, each project's root is its own folder."""
    client = _client(make_client, host, tmp_path, LOCAL_FOR_MEMBERS)
    a, b = tenants.project_a, tenants.project_b
    for project in (a, b):
        (host["lib"] / "ova" / project).mkdir(parents=True)
    (host["lib"] / "ova" / b / "link-to-a").symlink_to(host["lib"] / "ova" / a)
    for path in (f"{host['lib']}/ova/{a}", f"{host['lib']}/ova/{b}/../{a}", f"{host['lib']}/ova/{b}/link-to-a",
                 f"/proc/self/root{host['lib']}/ova/{a}", str(host["victim"])):
        resp = client.post(f"/v1/{b}/endpoints", json=_endpoint("ova", {"path": path}), headers=tokens["bob"])
        _assert_error(resp, 400, "connection_info", "path: is outside")
    mine = client.post(f"/v1/{b}/endpoints", json=_endpoint("ova", {"path": f"{host['lib']}/ova/{b}"}),
                       headers=tokens["bob"])
    assert mine.status_code == 201, mine.get_json()
    # an update cannot move it either
    eid = mine.get_json()["endpoint"]["id"]
    resp = client.put(f"/v1/{b}/endpoints/{eid}", json={"endpoint": {"connection_info": {"path": "/"}}},
                      headers=tokens["bob"])
    _assert_error(resp, 400, "path: is outside")


def test_kvm_image_dirs_root_and_another_projects_domains(make_client, host, tmp_path, tenants, tokens, sentinels):
    client = _client(make_client, host, tmp_path, LOCAL_FOR_MEMBERS)
    a, b = tenants.project_a, tenants.project_b
    (host["lib"] / "kvm" / a).mkdir()
    (host["lib"] / "kvm" / b).mkdir()
    cases = [
        ({"domains_dir": f"{host['lib']}/kvm/{b}", "image_dirs": ["/"]}, "image_dirs[0]"),
        ({"domains_dir": f"{host['lib']}/kvm/{a}"}, "domains_dir"),
        ({"domains_dir": f"{host['lib']}/kvm/{b}", "image_dirs": [f"{host['lib']}/kvm/{a}"]}, "image_dirs[0]"),
        ({"storage_dir": str(host["victim"])}, "storage_dir"),
    ]
    for info, field in cases:
        resp = client.post(f"/v1/{b}/endpoints", json=_endpoint("kvm", info), headers=tokens["bob"])
        _assert_error(resp, 400, f"{field}: is outside")


@pytest.mark.parametrize("user", ["alice", "admin"])
def test_host_firmware_and_programs_are_not_tenant_input(make_client, host, tmp_path, tenants, tokens, user,
                                                         sentinels):
    """``ovmf_vars=/etc/shadow`` and friends: unknown fields for everyone, admins included."""
    client = _client(make_client, host, tmp_path, LOCAL_FOR_MEMBERS)
    a = tenants.project_a
    storage = host["lib"] / "kvm" / a
    shadow = str(host["victim"] / "shadow")
    for extra, target in (({"ovmf_vars": shadow}, {}), ({"ovmf_code": shadow}, {}), ({"qemu_binary": "/bin/sh"}, {}),
                          ({}, {"kernel": shadow}), ({}, {"initrd": shadow})):
        body = stub_migration(["vm-1"])
        body["migration"]["destination"] = {"type": "kvm", "connection_info": {"storage_dir": str(storage), **extra},
                                            "target_environment": target}
        resp = client.post(f"/v1/{a}/migrations", json=body, headers=tokens[user])
        _assert_error(resp, 400, next(iter(extra or target)), "Unknown field")
    assert not storage.exists()


def test_power_file_is_not_tenant_input(make_client, host, tmp_path, tenants, tokens, sentinels):
    client = _client(make_client, host, tmp_path, STUB_FOR_MEMBERS)
    a = tenants.project_a
    body = stub_migration(["vm-1"], source_env={"power_file": str(host["victim"] / "power")})
    _assert_error(client.post(f"/v1/{a}/migrations", json=body, headers=tokens["alice"]), 400, "power_file")


def test_inline_origin_and_destination_are_confined(make_client, host, tmp_path, tenants, tokens, sentinels):
    client = _client(make_client, host, tmp_path, STUB_FOR_MEMBERS)
    a = tenants.project_a
    body = stub_migration(["vm-1"], storage_dir=str(host["victim"]))
    _assert_error(client.post(f"/v1/{a}/migrations", json=body, headers=tokens["alice"]), 400, "storage_dir")
    body = stub_migration(["vm-1"])
    body["migration"]["origin"] = {"type": "ova", "connection_info": {"path": str(host["victim"])}}
    _assert_error(client.post(f"/v1/{a}/migrations", json=body, headers=tokens["alice"]), 403, "provider:ova:use")
    body = stub_migration(["vm-1"], storage_dir=str(host["lib"] / "stub" / "mine"))
    resp = client.post(f"/v1/{a}/migrations", json=body, headers=tokens["alice"])
    assert resp.status_code == 202, resp.get_json()
