"""Routes of /providers, the OpenAPI document, health."""

from __future__ import annotations


def test_providers_list_their_abilities(client, project):
    providers = client.get(f"/v1/{project}/providers").get_json()["providers"]
    assert providers["stub"]["types"] == ["source", "destination"] and providers["stub"]["stub"] is True
    assert providers["ova"]["types"] == ["source"]
    assert providers["kvm"]["types"] == ["source", "destination"]
    assert providers["openstack"]["types"] == ["destination"]


def test_provider_schemas_are_json_schemas_of_the_marshmallow_ones(client, project):
    resp = client.get(f"/v1/{project}/providers/stub/schemas/destination")
    assert resp.status_code == 200
    schema = resp.get_json()["schemas"]["destination_environment_schema"]
    assert schema["type"] == "object"
    assert schema["properties"]["disk_format"]["enum"] == ["raw", "qcow2", "vmdk", "vhdx"]
    connection = client.get(f"/v1/{project}/providers/ova/schemas/connection").get_json()["schemas"]
    assert "path" in connection["connection_info_schema"]["properties"]


def test_unknown_providers_and_kinds_are_404(client, project):
    assert client.get(f"/v1/{project}/providers/nope/schemas/connection").status_code == 404
    assert client.get(f"/v1/{project}/providers/stub/schemas/nonsense").status_code == 404
    resp = client.get(f"/v1/{project}/providers/openstack/schemas/source")
    assert resp.status_code == 404 and "cannot be a source" in resp.get_json()["error"]["message"]


def test_openapi_document_and_health(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "Coriolis"
    assert "/v1/{project_id}/migrations" in spec["paths"]
    assert "/v1/{project_id}/migrations/{migration_id}/actions" in spec["paths"]
    assert client.get("/docs").status_code == 200
    health = client.get("/health")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
