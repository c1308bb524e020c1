"""Cron matching, and firing due schedules exactly once even when two beats ask at the same time."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from coriolis.database.models import Schedule
from coriolis_tasks import schedules


def _schedule(**fields) -> Schedule:
    return Schedule(**{name: fields.get(name) for name in schedules.FIELDS})


@pytest.mark.parametrize(
    ("fields", "when", "expected"),
    [
        ({}, datetime(2026, 3, 4, 5, 6), True),
        ({"minute": "*/15"}, datetime(2026, 3, 4, 5, 30), True),
        ({"minute": "*/15"}, datetime(2026, 3, 4, 5, 31), False),
        ({"minute": "0", "hour": "2-4"}, datetime(2026, 3, 4, 3, 0), True),
        ({"minute": "0", "hour": "2-4"}, datetime(2026, 3, 4, 5, 0), False),
        ({"dow": "0"}, datetime(2026, 11, 29, 9, 0), True),  # a Sunday
        ({"dow": "7"}, datetime(2026, 11, 29, 9, 0), True),
        ({"dow": "1-5"}, datetime(2026, 11, 29, 9, 0), False),
        ({"dom": "1", "dow": "0"}, datetime(2026, 11, 29, 9, 0), True),  # dom OR dow when both set
        ({"month": "1,6"}, datetime(2026, 6, 1), True),
    ],
)
def test_cron_matching(fields, when, expected):
    assert schedules.matches(_schedule(**fields), when) is expected


def test_two_beats_fire_a_schedule_once_per_minute(client, project, settings, monkeypatch, tmp_path):
    submitted: list[str] = []
    monkeypatch.setattr("coriolis_tasks.control.submit", submitted.append)
    monkeypatch.setattr(schedules, "get_settings", lambda: settings)

    def make(name, info):
        body = {"endpoint": {"name": name, "type": "stub", "connection_info": info}}
        return client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]["id"]

    body = {"transfer": {"origin_endpoint_id": make("s", {}), "destination_endpoint_id": make("d", {}),
                         "instances": ["a"]}}
    tid = client.post(f"/v1/{project}/transfers", json=body).get_json()["transfer"]["id"]
    url = f"/v1/{project}/transfers/{tid}/schedules"
    assert client.post(url, json={"schedule": {"minute": "30"}}).status_code == 201
    assert client.post(url, json={"schedule": {"minute": "31"}, "enabled": False}).status_code == 201

    minute = datetime(2030, 1, 1, 10, 30, 12)
    results: list[list[str]] = []
    beats = [threading.Thread(target=lambda: results.append(schedules.fire_due(minute))) for _ in range(2)]
    for beat in beats:
        beat.start()
    for beat in beats:
        beat.join()
    fired = [run for r in results for run in r]
    assert len(fired) == 1 and submitted == fired
    assert schedules.fire_due(minute.replace(second=50)) == []  # same minute, later call
    assert schedules.fire_due(datetime(2030, 1, 1, 10, 31)) == []  # the disabled one
    executions = client.get(f"/v1/{project}/transfers/{tid}/executions").get_json()["executions"]
    assert [e["id"] for e in executions] == fired
    assert schedules.fire_due(datetime(2030, 1, 1, 11, 30)) == []  # the first execution has not finished
