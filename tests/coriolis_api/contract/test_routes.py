"""Routes the clients call beyond the main workflow: options, inventory, services, diagnostics, minion pools."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from tests.conftest import RUN_ID
from tests.coriolis_api.contract import clients


@pytest.fixture()
def project() -> str:
    return f"rt-{uuid.uuid4().hex[:8]}"


def _endpoint(api, project: str, info: dict) -> str:
    resp = api.post(f"/v1/{project}/endpoints", json=clients.endpoint_create("e", "stub", info))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["endpoint"]["id"]


def test_destination_and_source_options_are_the_schema_choices(client, project):
    eid = _endpoint(client, project, {})
    resp = client.get(f"/v1/{project}/endpoints/{eid}/destination-options?env={clients.b64_json({})}")
    assert resp.status_code == 200, resp.get_json()
    options = {o["name"]: o for o in resp.get_json()["destination_options"]}
    assert options["disk_format"] == {"name": "disk_format", "values": ["raw", "qcow2", "vmdk", "vhdx"],
                                      "config_default": "qcow2"}
    picked = client.get(f"/v1/{project}/endpoints/{eid}/source-options?options=claim_format").get_json()
    assert [o["name"] for o in picked["source_options"]] == ["claim_format"]
    for role in ("source", "destination"):
        pools = client.get(f"/v1/{project}/endpoints/{eid}/{role}-minion-pool-options").get_json()
        assert pools == {f"{role}_minion_pool_options": []}


def test_inventory_csv_services_and_diagnostics(live_client, project):
    api = live_client
    eid = _endpoint(api, project, {"instances": ["=cmd", "web-1"]})
    resp = api.get(f"/v1/{project}/endpoints/{eid}/inventory", headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert sorted(r["name"] for r in rows) == ["'=cmd", "web-1"]  # a formula is never a formula

    services = api.get(f"/v1/{project}/services").get_json()["services"]
    ours = {s["node"].split("@")[0]: s for s in services if s["node"].endswith(RUN_ID) or RUN_ID in s["node"]}
    assert ours, services
    export = next(s for name, s in ours.items() if name.startswith("export"))
    assert export["status"] == "UP" and export["queues"] == ["export"] and export["binary"] == "coriolis-worker"
    shown = api.get(f"/v1/{project}/services/{export['id']}").get_json()["service"]
    assert shown["node"] == export["node"]
    assert api.get(f"/v1/{project}/services/{uuid.uuid4()}").status_code == 404

    diagnostics = api.get(f"/v1/{project}/diagnostics").get_json()["diagnostics"]
    assert diagnostics[0]["application"] == "coriolis-api" and "coriolis" in diagnostics[0]["packages"]
