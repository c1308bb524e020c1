"""Routes of /providers, the OpenAPI document, health."""

from __future__ import annotations


def test_providers_list_their_abilities(client, project):
    providers = client.get(f"/v1/{project}/providers").get_json()["providers"]
    assert providers["stub"]["abilities"] == ["source", "destination"] and providers["stub"]["stub"] is True
    assert providers["ova"]["abilities"] == ["source"]
    assert providers["kvm"]["abilities"] == ["source", "destination"]
    assert providers["openstack"]["abilities"] == ["destination"]


def test_providers_list_upstream_integer_flags(client, project):
    """coriolis-web and python-coriolisclient read ``types`` as upstream's integer constants."""
    providers = client.get(f"/v1/{project}/providers").get_json()["providers"]
    connection, source, destination, storage, options = 16, 8, 4, 32768, 512
    assert {connection, source, destination, storage} <= set(providers["stub"]["types"])
    assert connection in providers["ova"]["types"] and source in providers["ova"]["types"]
    assert destination not in providers["ova"]["types"] and storage not in providers["ova"]["types"]
    assert source not in providers["openstack"]["types"] and options in providers["openstack"]["types"]
    assert all(isinstance(flag, int) for p in providers.values() for flag in p["types"])


def test_schema_kinds_by_upstream_number(client, project):
    by_word = client.get(f"/v1/{project}/providers/stub/schemas/destination").get_json()["schemas"]
    assert client.get(f"/v1/{project}/providers/stub/schemas/4").get_json()["schemas"] == by_word
    source = client.get(f"/v1/{project}/providers/stub/schemas/8").get_json()["schemas"]
    assert "source_environment_schema" in source
    connection = client.get(f"/v1/{project}/providers/stub/schemas/16").get_json()["schemas"]
    assert connection == client.get(f"/v1/{project}/providers/stub/schemas/connection").get_json()["schemas"]
    assert client.get(f"/v1/{project}/providers/ova/schemas/4").status_code == 404


def test_served_schemas_state_nullable_as_json_schema(client, project):
    """``nullable: true`` is OpenAPI; a JSON Schema validator needs ``type: [..., "null"]``."""
    import jsonschema

    schemas = client.get(f"/v1/{project}/providers/stub/schemas/16").get_json()["schemas"]
    schema = schemas["connection_info_schema"]["oneOf"][0]
    assert "nullable" not in str(schemas)
    nullable = [name for name, prop in schema["properties"].items() if "null" in (prop.get("type") or [])]
    assert nullable, "the stub connection declares nullable options"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate({nullable[0]: None}, schema)


def test_provider_schemas_are_json_schemas_of_the_marshmallow_ones(client, project):
    resp = client.get(f"/v1/{project}/providers/stub/schemas/destination")
    assert resp.status_code == 200
    schema = resp.get_json()["schemas"]["destination_environment_schema"]
    assert schema["type"] == "object"
    assert schema["properties"]["disk_format"]["enum"] == ["raw", "qcow2", "vmdk", "vhdx"]
    connection = client.get(f"/v1/{project}/providers/ova/schemas/connection").get_json()["schemas"]
    assert "path" in connection["connection_info_schema"]["oneOf"][0]["properties"]


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
