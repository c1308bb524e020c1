"""Per-project quotas on POST /migrations: unfinished runs and declared bytes in flight (409, naming the setting)."""

from __future__ import annotations

import pytest

from coriolis.database.models import Migration
from coriolis.database.session import session_scope
from tests.coriolis_tasks.helpers import stub_migration


@pytest.fixture()
def quota_client(settings):
    from coriolis_api.app import create_app

    def build(**limits):
        app = create_app(settings.replace(**limits))
        app.config["TESTING"] = True
        return app.test_client()

    return build


def test_a_project_at_its_run_limit_gets_409_others_do_not(quota_client, project, dispatched):
    client = quota_client(max_active_runs_per_project=2)
    ids = [client.post(f"/v1/{project}/migrations", json=stub_migration([f"vm-{n}"])).get_json()["migration"]["id"]
           for n in range(2)]
    resp = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-3"]))
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["fault"] == "conflict" and "max_active_runs_per_project=2" in error["message"]
    assert client.post(f"/v1/{project}-other/migrations", json=stub_migration(["vm-1"])).status_code == 202
    with session_scope(client.application.config["CORIOLIS_SETTINGS"].database_url) as s:
        s.get(Migration, ids[0]).status = "COMPLETED"  # a finished run frees its place
    assert client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-3"])).status_code == 202


def test_a_project_moving_its_byte_limit_gets_409(quota_client, project, dispatched):
    client = quota_client(max_bytes_in_flight_per_project=10 << 30)
    mid = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-1"])).get_json()["migration"]["id"]
    disks = [{"id": "d0", "size_bytes": 6 << 30}, {"id": "d1", "size_bytes": 4 << 30}]
    with session_scope(client.application.config["CORIOLIS_SETTINGS"].database_url) as s:
        s.get(Migration, mid).info = {"vm-1": {"vm": {"devices": {"disks": disks}}}}
    resp = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-2"]))
    assert resp.status_code == 409
    assert "10.0 GiB" in resp.get_json()["error"]["message"]
    assert "max_bytes_in_flight_per_project" in resp.get_json()["error"]["message"]
