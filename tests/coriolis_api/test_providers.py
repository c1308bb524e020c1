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


def _properties(schema):
    """Every property of ``schema``, nested objects' too, as (name, property)."""
    for name, prop in (schema.get("properties") or {}).items():
        yield name, prop
        yield from _properties(prop)


def test_served_schemas_type_every_option_with_one_word(client, project):
    """coriolis-web draws a form field from ``type`` read as one word and sends a field's ``default`` when the
    user leaves it empty: a nullable option is served optional, with one type, no null default, no null choice;
    and the served schemas are valid JSON Schemas a form's output passes."""
    import jsonschema

    for provider in ("stub", "kvm", "openstack", "ova"):
        for kind in ("16", "8", "4"):
            resp = client.get(f"/v1/{project}/providers/{provider}/schemas/{kind}")
            if resp.status_code == 404:
                continue
            for schema in resp.get_json()["schemas"].values():
                schema = schema["oneOf"][0] if "oneOf" in schema else schema
                assert "nullable" not in str(schema)
                jsonschema.Draft7Validator.check_schema(schema)
                for name, prop in _properties(schema):
                    assert isinstance(prop.get("type", "object"), str), (provider, kind, name, prop)
                    assert None not in (prop.get("enum") or []), (provider, kind, name)
                    assert "default" not in prop or prop["default"] is not None, (provider, kind, name)
    stub = client.get(f"/v1/{project}/providers/stub/schemas/16").get_json()["schemas"]["connection_info_schema"]
    properties = stub["oneOf"][0]["properties"]
    assert properties["storage_dir"]["type"] == "string" and "default" not in properties["storage_dir"]
    jsonschema.validate({"networks": ["prod"]}, stub["oneOf"][0])  # what the form sends: unset options left out


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
