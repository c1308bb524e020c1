"""The hyperv and scvmm providers as the API lists them: sources, with their connection and source schemas."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["hyperv", "scvmm"])
def test_listed_as_sources_with_schemas(client, project, name):
    providers = client.get(f"/v1/{project}/providers").get_json()["providers"]
    assert providers[name]["abilities"] == ["source"] and providers[name]["stub"] is False
    connection = client.get(f"/v1/{project}/providers/{name}/schemas/connection").get_json()["schemas"]
    (schema,) = connection["connection_info_schema"]["oneOf"]  # upstream's shape (the GUI reads oneOf)
    properties = schema["properties"]
    assert properties["transport"]["enum"] == ["ntlm", "kerberos", "credssp", "basic"]
    assert properties["scheme"]["enum"] == ["https", "http"] and properties["smb_port"]["default"] == 445
    assert set(schema["required"]) == {"host", "username", "password"}
    source = client.get(f"/v1/{project}/providers/{name}/schemas/source").get_json()["schemas"]
    options = source["source_environment_schema"]["properties"]
    assert options["checkpoint_type"]["enum"] == ["ProductionOnly", "Production", "Standard"]
    assert options["power_off"]["default"] is False


def test_an_inline_hyperv_origin_naming_loopback_is_refused_with_400(client, project):
    body = {"migration": {
        "origin": {"type": "hyperv", "connection_info": {"host": "127.0.0.1", "username": "u", "password": "p"}},
        "destination": {"type": "stub", "connection_info": {}},
        "instances": ["vm"],
    }}
    resp = client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 400, resp.get_json()
    assert "127.0.0.1" in resp.get_json()["error"]["message"] and "'p'" not in resp.get_json()["error"]["message"]
