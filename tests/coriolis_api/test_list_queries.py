"""Reads of runs stay cheap: SQL statements and Redis reads per page do not grow with the page.

Lists, ``/detail`` and GET one show connection info from its plain redacted sibling: the sealed
columns are neither loaded nor decrypted, and secrets never appear.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, select

from coriolis.database import encrypted
from coriolis.database.models import Migration, ProgressUpdate, Task, TaskEvent
from coriolis.database.session import get_engine, session_scope
from coriolis.progress import ProgressStore, get_redis, progress_state
from tests.coriolis_tasks.helpers import stub_migration

SECRET = "pw-never-shown-0451"
STAGES = ("EXPORT_DISK", "CONVERT_DISK", "OS_MORPHING")


@contextmanager
def statements(url: str) -> Iterator[list[str]]:
    """The SQL statements issued on ``url``'s engine while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _add_runs(client, settings, project: str, count: int) -> list[str]:
    """``count`` migrations holding a password, each with stage tasks, updates, events, live progress."""
    store = ProgressStore(get_redis(settings.redis_url))
    ids = []
    for n in range(count):
        body = stub_migration([f"vm-{n}"])
        body["migration"]["origin"]["connection_info"] = {"instances": [f"vm-{n}"], "password": SECRET}
        resp = client.post(f"/v1/{project}/migrations", json=body)
        assert resp.status_code == 202, resp.get_json()
        ids.append(resp.get_json()["migration"]["id"])
    with session_scope(settings.database_url) as s:
        for mid in ids:
            for i, stage in enumerate(STAGES, start=10):
                running = stage == "EXPORT_DISK"
                task = Task(migration_id=mid, index=i, instance="vm", task_type=stage, queue="export",
                            status="RUNNING" if running else "PENDING", depends_on=[])
                s.add(task)
                s.flush()
                s.add(ProgressUpdate(task_id=task.id, index=0, current_step=0, total_steps=10, message="start"))
                s.add(TaskEvent(task_id=task.id, index=0, level="INFO", message="started"))
                if running:
                    store.write(task.id, progress_state(5, 10, "exporting", time.time() - 1))
    return ids


@pytest.fixture()
def no_decrypt(monkeypatch):
    """Fails the test on any decryption made while the API reads."""
    calls: list[str] = []

    def refuse(self, token):
        calls.append(token)
        raise AssertionError("a read decrypted connection info")

    monkeypatch.setattr(encrypted.Keyring, "decrypt_json", refuse)
    monkeypatch.setattr(encrypted.Keyring, "open", refuse)
    return calls


@pytest.fixture()
def redis_reads(monkeypatch) -> list[int]:
    """The size of each live-progress read (one entry per Redis round trip)."""
    reads: list[int] = []
    original = ProgressStore.read_many

    def counting(self, task_ids):
        reads.append(len(task_ids))
        return original(self, task_ids)

    monkeypatch.setattr(ProgressStore, "read_many", counting)
    return reads


def _page_costs(client, settings, project: str, mid: str, reads: list[int]) -> dict[str, tuple[int, int]]:
    costs = {}
    for name, path in (
        ("list", f"/v1/{project}/migrations"),
        ("detail", f"/v1/{project}/migrations/detail"),
        ("one", f"/v1/{project}/migrations/{mid}"),
    ):
        reads.clear()
        with statements(settings.database_url) as seen:
            resp = client.get(path)
        assert resp.status_code == 200, resp.get_json()
        text = resp.get_data(as_text=True)
        assert SECRET not in text and "_redacted" not in text and "keystone_trust_id" not in text
        costs[name] = (len(seen), len(reads))
    return costs


def test_statements_and_redis_reads_do_not_grow_with_the_page(client, settings, redis_reads, no_decrypt):
    small, large = "q-small-" + Fernet.generate_key().decode()[:8], "q-large-" + Fernet.generate_key().decode()[:8]
    few = _add_runs(client, settings, small, 2)
    many = _add_runs(client, settings, large, 9)
    assert not no_decrypt
    cost_few = _page_costs(client, settings, small, few[0], redis_reads)
    cost_many = _page_costs(client, settings, large, many[0], redis_reads)
    assert cost_few == cost_many
    assert cost_many["list"] == (1, 0)  # one SELECT, no Redis
    assert cost_many["detail"][0] <= 4 and cost_many["detail"][1] == 1  # runs, tasks, updates, events; one MGET
    assert cost_many["one"][1] == 1
    detail = client.get(f"/v1/{large}/migrations/detail").get_json()["migrations"]
    assert len(detail) == 9
    for run in detail:
        assert run["origin"]["connection_info"] == {"instances": run["instances"], "password": "***"}
        running = [t for t in run["tasks"] if t["status"] == "RUNNING"]
        assert running and running[0]["progress"]["current_step"] == 5
        assert run["progress"]["percent"] == pytest.approx(100 * 0.5 / 3, abs=0.1)
        for task in [t for t in run["tasks"] if t["task_type"] in STAGES]:  # each its own, read by run
            assert [(u["task_id"], u["message"]) for u in task["progress_updates"]] == [(task["id"], "start")]
            assert [(e["task_id"], e["message"]) for e in task["events"]] == [(task["id"], "started")]
    assert not no_decrypt


def test_a_value_no_key_opens_still_shows_as_undecryptable_in_lists(client, settings, project):
    _add_runs(client, settings, project, 1)
    encrypted.use_keys([Fernet.generate_key().decode()])  # the key that sealed the row is gone
    try:
        runs = client.get(f"/v1/{project}/migrations").get_json()["migrations"]
    finally:
        encrypted.use_keys(None)
    assert runs[0]["origin"]["connection_info"] == {"undecryptable": "***"}
    again = client.get(f"/v1/{project}/migrations").get_json()["migrations"]
    assert again[0]["origin"]["connection_info"] == {"instances": again[0]["instances"], "password": "***"}


def test_a_row_without_its_sibling_is_decrypted_as_before(client, settings, project):
    """A row written outside the ORM (no redacted sibling) still shows the right view."""
    (mid,) = _add_runs(client, settings, project, 1)
    with session_scope(settings.database_url) as s:
        s.execute(Migration.__table__.update().where(Migration.id == mid).values(
            origin_connection_info_redacted=None, destination_connection_info_redacted=None))
    shown = client.get(f"/v1/{project}/migrations").get_json()["migrations"][0]
    assert shown["origin"]["connection_info"] == {"instances": shown["instances"], "password": "***"}
    with session_scope(settings.database_url) as s:
        stored = s.scalars(select(Migration.origin_connection_info_redacted).where(Migration.id == mid)).one()
    assert stored is None  # a read never writes
