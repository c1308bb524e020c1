"""Upgrading a database that already holds data, revision by revision, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, inspect, text

from coriolis.database.session import upgrade
from tests.conftest import PG_ADMIN_URL


def _seed_0001(url: str) -> str:
    """A migration with a task (a row other rows refer to), written at revision 0001."""
    engine = create_engine(url)
    mid, tid = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO migrations (id, created_at, deleted, project_id, user_id, status, origin, destination, "
                "source_environment, destination_environment, network_map, storage_mappings, user_scripts, instances, "
                "notes, skip_os_morphing, shutdown_instances, info, transfer_result, dispatched) VALUES (:id, "
                "CURRENT_TIMESTAMP, false, 'p', 'u', 'COMPLETED', '{\"type\": \"stub\", \"connection_info\": {}}', "
                "'{\"type\": \"stub\", \"connection_info\": {}}', '{}', '{}', '{}', '{}', '{}', '[\"vm\"]', '', false, "
                "false, '{}', '{}', true)"
            ),
            {"id": mid},
        )
        conn.execute(
            text(
                'INSERT INTO tasks (id, migration_id, "index", instance, task_type, queue, status, depends_on, '
                "on_error, result, created_at) VALUES (:id, :mid, 1, 'vm', 'EXPORT_DISK', 'export', 'COMPLETED', "
                "'[]', false, '{}', CURRENT_TIMESTAMP)"
            ),
            {"id": tid, "mid": mid},
        )
    engine.dispose()
    return mid


def _check_upgrade(url: str) -> None:
    upgrade(url, "0001")
    mid = _seed_0001(url)
    upgrade(url)  # to head, across the table rebuilds of later revisions
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT type, status FROM migrations WHERE id = :id"), {"id": mid}).one()
        assert tuple(row) == ("migration", "COMPLETED")
        assert conn.execute(text("SELECT count(*) FROM tasks WHERE migration_id = :id"), {"id": mid}).scalar() == 1
    assert {"transfers", "replica_disks", "schedules"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_with_data_upgrades(tmp_path):
    _check_upgrade(f"sqlite:///{tmp_path / 'old.sqlite'}")


def test_postgresql_with_data_upgrades():
    name = f"coriolis_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _check_upgrade(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        from coriolis.database.session import get_engine

        get_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
