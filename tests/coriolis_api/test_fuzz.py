"""Schemathesis fuzzing of every operation of the OpenAPI document the app serves (in process, SQLite).

Each operation is fuzzed three ways: with generated path parameters, with the path parameters of
real records (so that bodies and queries reach the code behind the id checks), and with negative
data (values the document forbids). Every response must not be a 5xx and must conform to the
document: a documented status code, its content type and its body schema. Negative cases must
be rejected with a 4xx.

Workers are not started: migration dispatch and cancel are recorded, and the calls that would
wait for a worker (inventory, connection checks) get a fixed answer.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import make_settings

MIN_CASES = 1000
PROJECT = "fuzz-project"
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class FixedAnswer:
    """What a worker would send back for an inventory or validation call."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, timeout: float | None = None) -> Any:
        return self.value


def _ask_worker(task_name: str, *args: Any) -> Any:
    if task_name.endswith("get_instance"):
        return {"id": args[1], "name": str(args[1]), "disks": []}  # (endpoint id, instance id, env)
    return [{"id": "vm-1", "name": "vm-1"}, {"id": "vm-2", "name": "vm-2"}]


@pytest.fixture()
def app(sqlite_url, monkeypatch):
    from coriolis_api.app import create_app
    from coriolis_tasks.app import celery_app

    monkeypatch.setattr("coriolis_api.resources.endpoints.service.ask_worker", _ask_worker)
    monkeypatch.setattr(celery_app, "send_task", lambda *a, **k: FixedAnswer({"ok": True, "message": "fine"}))
    monkeypatch.setattr("coriolis_tasks.control.cancel", lambda *a, **k: None)
    app = create_app(make_settings(sqlite_url))
    app.config["TESTING"] = True
    return app


def _create(client, path: str, body: dict, key: str) -> str | None:
    """The id of a record created through the API (``None`` when that resource refuses the body)."""
    resp = client.post(f"/v1/{PROJECT}/{path}", json=body)
    return resp.get_json()[key]["id"] if resp.status_code in (200, 201, 202) else None


def _records(client, tmp_path) -> dict[str, str]:
    """Real records of the fuzzed project, so that fixed path parameters name something."""
    source = _create(client, "endpoints", {"endpoint": {
        "name": "src", "type": "stub", "connection_info": {"instances": ["vm-1"]}}}, "endpoint")
    target = _create(client, "endpoints", {"endpoint": {
        "name": "dst", "type": "stub", "connection_info": {"storage_dir": str(tmp_path)}}}, "endpoint")
    migration = _create(client, "migrations", {"migration": {
        "origin": {"type": "stub", "connection_info": {}},
        "destination": {"type": "stub", "connection_info": {}},
        "instances": ["vm-1"],
    }}, "migration")
    transfer = _create(client, "transfers", {"transfer": {
        "origin_endpoint_id": source, "destination_endpoint_id": target, "instances": ["vm-1"]}}, "transfer")
    records = {
        "project_id": PROJECT, "endpoint_id": source, "migration_id": migration, "transfer_id": transfer,
        "instance_id": "vm-1", "provider_type": "stub", "kind": "connection",
    }
    if transfer:
        records["execution_id"] = _create(client, f"transfers/{transfer}/executions", {"execution": {}}, "execution")
        schedule = {"schedule": {"hour": "3", "minute": "0"}}
        records["schedule_id"] = _create(client, f"transfers/{transfer}/schedules", schedule, "schedule")
        deployment = {"deployment": {"transfer_id": transfer}}
        records["deployment_id"] = _create(client, "deployments", deployment, "deployment")
    return {name: value for name, value in records.items() if value}


class Tally:
    """Cases run, statuses seen and the first failure of each fuzzing run."""

    def __init__(self) -> None:
        self.cases = 0
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: dict[str, str] = {}


def fuzz(operation, mode: GenerationMode, params: dict[str, str] | None, examples: int, tally: Tally) -> None:
    """Run ``examples`` generated cases of one operation, recording failures instead of shrinking them."""
    checks = CONFORMANCE + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
    label = f"{operation.label} [{mode}{' fixed ids' if params else ''}]"

    @hsettings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=params))
    def run(case) -> None:
        tally.cases += 1
        try:
            response = case.call()
            tally.statuses[(operation.label, response.status_code)] += 1
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            tally.failures.setdefault(label, str(exc)[:3000])

    try:
        run()
    except Unsatisfiable:  # nothing left to negate once the path parameters are fixed
        pass


def test_fuzz_every_operation(app, tmp_path, record_property):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # deletions last, so that the records the other operations are fuzzed on still exist
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda o: o.method == "delete")
    records = _records(app.test_client(), tmp_path)
    runs = [(mode, fixed) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for fixed in (False, True)]
    examples = -(-MIN_CASES // (len(operations) * len(runs))) + 5
    tally = Tally()
    started = time.monotonic()
    for operation in operations:
        known = {p.name: records[p.name] for p in operation.path_parameters if p.name in records}
        for mode, fixed in runs:
            fuzz(operation, mode, known if fixed else None, examples, tally)
    elapsed = time.monotonic() - started

    for (label, status), count in sorted(tally.statuses.items()):
        print(f"  {label}: {status} x{count}")
    record_property("schemathesis_cases", tally.cases)
    print(f"schemathesis: {tally.cases} cases over {len(operations)} operations in {elapsed:.0f}s")
    assert not tally.failures, "\n\n".join(f"== {label}\n{text}" for label, text in tally.failures.items())
    assert tally.cases >= MIN_CASES, f"only {tally.cases} cases ran"
