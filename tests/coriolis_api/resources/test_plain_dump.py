"""Response schemas dumped by plan give marshmallow's own output, for documents and for real routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import Schema, fields

from coriolis.database.models import Task
from coriolis.database.session import session_scope
from coriolis_api.resources.deployments.schemas import DeploymentListResponse
from coriolis_api.resources.executions.schemas import ExecutionResponse
from coriolis_api.resources.migrations.schemas import MigrationListResponse, MigrationResponse
from coriolis_api.resources.plain_dump import PlainDump
from tests.coriolis_tasks.helpers import stub_migration

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123)


def marshmallows(schema: Schema, doc):
    """What marshmallow itself dumps (every nested plan off)."""
    original = PlainDump.dump
    try:
        PlainDump.dump = Schema.dump
        return schema.dump(doc)
    finally:
        PlainDump.dump = original


def a_run(n: int) -> dict:
    update = {"id": f"u{n}", "task_id": f"t{n}", "index": 1, "current_step": 3, "total_steps": None,
              "message": "step", "created_at": WHEN.isoformat()}
    task = {"id": f"t{n}", "index": n, "migration_id": f"m{n}", "instance": "vm", "task_type": "EXPORT_DISK",
            "status": "RUNNING", "host": None, "process_id": 12, "depends_on": ["a", "b"], "on_error": False,
            "disk_id": None, "created_at": WHEN, "started_at": WHEN.replace(tzinfo=UTC), "finished_at": None,
            "exception_details": None, "progress": {"percent": 5}, "progress_updates": [update], "events": [],
            "result": {}, "not_in_the_schema": 1}
    return {
        "id": f"m{n}", "status": "RUNNING", "last_execution_status": "RUNNING", "project_id": "p", "user_id": 7,
        "created_at": WHEN, "updated_at": None, "deleted": False, "finished_at": None, "origin_endpoint_id": None,
        "origin": {"type": "stub", "connection_info": {"password": "***"}}, "destination": {"type": "stub"},
        "instances": ["vm", 3], "source_environment": {}, "destination_environment": {"a": [1]},
        "network_map": {}, "storage_mappings": {"default": None}, "user_scripts": {}, "notes": "",
        "skip_os_morphing": False, "shutdown_instances": True, "last_error": None, "progress": {"percent": 1.5},
        "info": {}, "transfer_result": None, "reservation_id": None, "origin_minion_pool_id": None,
        "destination_minion_pool_id": None, "instance_osmorphing_minion_pool_mappings": {}, "clustered": False,
        "base_id": f"m{n}", "transfer_id": "tr", "tasks": [task] if n % 2 else [],
        # deleted_at, notes of a deployment... left out: a missing key stays missing
    }


@pytest.mark.parametrize("schema", [MigrationResponse(), ExecutionResponse()])
def test_one_run_dumps_as_marshmallow_dumps_it(schema):
    doc = {"migration": a_run(1), "execution": a_run(3)}
    assert schema.dump(doc) == marshmallows(schema, doc)


@pytest.mark.parametrize("schema", [MigrationListResponse(), DeploymentListResponse()])
def test_a_page_of_runs_dumps_as_marshmallow_dumps_it(schema):
    doc = {"migrations": [a_run(n) for n in range(4)], "deployments": [a_run(n) for n in range(3)]}
    dumped = schema.dump(doc)
    assert dumped == marshmallows(schema, doc)
    assert dumped[next(iter(dumped))][1]["tasks"][0]["created_at"] == WHEN.isoformat()


def test_fields_of_other_kinds_and_objects_go_through_marshmallow():
    class Thing:
        id = "x"
        when = WHEN

    class Out(PlainDump):
        id = fields.String()
        when = fields.DateTime(format="%Y")
        size = fields.Integer(as_string=True)
        kind = fields.Constant("run")
        renamed = fields.String(attribute="id", data_key="ident", dump_only=True)
        total = fields.Method("count")

        def count(self, obj):
            return 41 + 1

    doc = {"id": "x", "when": WHEN, "size": 3}
    assert Out().dump(doc) == marshmallows(Out(), doc) == {
        "id": "x", "when": "2026", "size": "3", "kind": "run", "ident": "x", "total": 42}
    assert Out().dump(Thing()) == marshmallows(Out(), Thing())


def test_routes_answer_what_marshmallow_would(client, project, settings, monkeypatch):
    mid = client.post(f"/v1/{project}/migrations", json=stub_migration(["vm-a", "vm-b"])).get_json()["migration"]["id"]
    with session_scope(settings.database_url) as s:
        s.add(Task(migration_id=mid, index=9, instance="vm-a", task_type="EXPORT_DISK", queue="export",
                   status="COMPLETED", result={"path": "/x"}, started_at=WHEN, finished_at=WHEN))
    paths = [f"/v1/{project}/migrations/{mid}", f"/v1/{project}/migrations", f"/v1/{project}/migrations/detail"]
    planned = [client.get(p).get_json() for p in paths]
    monkeypatch.setattr(PlainDump, "dump", Schema.dump)
    assert planned == [client.get(p).get_json() for p in paths]
    assert any(t["task_type"] == "EXPORT_DISK" for t in planned[0]["migration"]["tasks"])
