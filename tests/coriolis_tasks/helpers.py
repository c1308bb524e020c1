"""Helpers for tests that drive migrations through the API and watch them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

FINISHED = {"COMPLETED", "ERROR", "CANCELED"}


def stub_migration(
    instances: list[str], source_env: dict | None = None, target_env: dict | None = None, storage_dir: str = ""
) -> dict[str, Any]:
    return {
        "migration": {
            "origin": {"type": "stub", "connection_info": {}},
            "destination": {
                "type": "stub",
                "connection_info": {"storage_dir": storage_dir} if storage_dir else {},
                "target_environment": target_env or {},
            },
            "source_environment": source_env or {},
            "instances": instances,
        }
    }


def get_migration(client, project: str, migration_id: str, path: str = "migrations") -> dict[str, Any]:
    resp = client.get(f"/v1/{project}/{path}/{migration_id}")
    assert resp.status_code == 200, resp.get_json()
    return next(iter(resp.get_json().values()))


def wait_for(
    client, project: str, migration_id: str, until: Callable[[dict], bool], timeout: float = 120,
    on_poll: Callable[[dict], None] | None = None, path: str = "migrations",
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        migration = get_migration(client, project, migration_id, path)
        if on_poll:
            on_poll(migration)
        if until(migration):
            return migration
        time.sleep(0.2)
    states = [(t["task_type"], t["status"]) for t in migration.get("tasks", [])]
    raise AssertionError(f"timed out; last state: {migration['status']} {states}")


def wait_finished(client, project: str, migration_id: str, timeout: float = 120, on_poll=None) -> dict:
    return wait_for(client, project, migration_id, lambda m: m["status"] in FINISHED, timeout, on_poll)
