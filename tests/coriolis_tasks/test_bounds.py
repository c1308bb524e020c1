"""Work bounded by the operator: a disk declaring more than max_disk_bytes fails at instance info, before
any data moves; a stage that cannot fit its disk in staging is a clean ERROR that writes nothing."""

from __future__ import annotations

import os
import uuid

import pytest

from coriolis_tasks import staging
from tests.coriolis_tasks.helpers import stub_migration, wait_for

MIB = 1 << 20


def test_check_space(tmp_path) -> None:
    staging.check_space(tmp_path, 1, 0)
    stats = os.statvfs(tmp_path)
    free = stats.f_bavail * stats.f_frsize
    with pytest.raises(staging.StagingFull, match="staging_reserve_bytes"):
        staging.check_space(tmp_path, free, 1 << 30)


def _run(live_client, body) -> tuple[str, dict]:
    project = f"bounds-{uuid.uuid4().hex[:8]}"
    resp = live_client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    return mid, wait_for(live_client, project, mid, lambda m: m["status"] in ("COMPLETED", "ERROR", "CANCELED"))


def test_a_disk_over_the_size_cap_fails_before_any_data_moves(live_client, workers, tmp_path) -> None:
    body = stub_migration(["big"], source_env={"disk_size_mb": 1 << 20}, storage_dir=str(tmp_path / "dest"))
    mid, migration = _run(live_client, body)  # 1 TiB declared; the tests' cap is 512 GiB
    assert migration["status"] == "ERROR"
    assert "max_disk_bytes" in migration["last_error"] and "1024.0 GiB" in migration["last_error"]
    info = next(t for t in migration["tasks"] if t["task_type"] == "GET_INSTANCE_INFO")
    assert info["status"] == "ERROR"  # failed at instance info: no export was ever planned
    assert not [t for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK"]
    assert not (tmp_path / "dest").exists()


def test_a_full_staging_area_is_a_clean_error(live_client, workers, tmp_path) -> None:
    stats = os.statvfs(workers.settings.staging_dir if os.path.exists(workers.settings.staging_dir) else "/")
    size_mb = (stats.f_bavail * stats.f_frsize) // MIB + 1024  # 1 GiB more than is free
    if size_mb * MIB > 512 << 30:
        pytest.fail("the staging file system has more free space than the tests' disk cap: this test cannot fill it")
    body = stub_migration(["wide"], source_env={"disk_size_mb": size_mb}, storage_dir=str(tmp_path / "dest"))
    mid, migration = _run(live_client, body)
    assert migration["status"] == "ERROR"
    assert "staging_dir has" in migration["last_error"] and "staging_reserve_bytes" in migration["last_error"]
    export = next(t for t in migration["tasks"] if t["task_type"] == "EXPORT_DISK")
    assert export["status"] == "ERROR"
    assert not list((staging.migration_dir(workers.settings.staging_dir, mid)).glob("**/*.raw"))  # nothing half-written
