"""``coriolis migration|transfer|execution|deployment|schedule ...`` with ``--wait``, over a real API."""

from __future__ import annotations

import json

import pytest

from tests.coriolis_client.helpers import run, run_json


@pytest.fixture()
def endpoints(cli_env, dest_dir) -> tuple[str, str]:
    src = run_json(cli_env, "endpoint", "create", "--name", "src", "--type", "stub")
    env = {**cli_env, "DEST": json.dumps({"storage_dir": str(dest_dir)})}
    dst = run_json(env, "endpoint", "create", "--name", "dst", "--type", "stub", "--connection-info-env", "DEST")
    return src["id"], dst["id"]


def _migrate(cli_env, *extra: str, code: int = 0):
    return run(cli_env, "migration", "create", "--origin-endpoint", "src", "--destination-endpoint", "dst",
               "--instance", "web-1", "--source-env", '{"disk_size_mb": 8}', *extra, code=code)


def test_migration_wait_completes_with_progress(cli_env, endpoints):
    result = _migrate(cli_env, "--network-map", "stub-net=prod-net", "--storage-default", "fast",
                      "--notes", "from the cli", "--wait", "-f", "json")
    migration = json.loads(result.stdout)
    assert migration["status"] == "COMPLETED"
    assert migration["network_map"] == {"stub-net": "prod-net"}
    assert migration["storage_mappings"]["default"] == "fast" and migration["notes"] == "from the cli"
    # the per-task bars (drawn on stderr), the bytes of the export, and the outcome
    assert "web-1 EXPORT_DISK disk0" in result.stderr and "BOOT_INSTANCE" in result.stderr
    assert "8.0 MiB/8.0 MiB" in result.stderr
    assert f"migration {migration['id']}: COMPLETED" in result.stderr

    assert [m["id"] for m in run_json(cli_env, "migration", "list")] == [migration["id"]]
    assert migration["id"] in run(cli_env, "migration", "list").stdout
    shown = run_json(cli_env, "migration", "show", migration["id"])
    assert {t["task_type"] for t in shown["tasks"]} >= {"EXPORT_DISK", "BOOT_INSTANCE"}
    run(cli_env, "migration", "delete", migration["id"])
    assert "404" in run(cli_env, "migration", "show", migration["id"], code=1).stderr


def test_migration_wait_error_exits_1_with_reason(cli_env, endpoints):
    result = _migrate(cli_env, "--destination-env", '{"fail_boot": true}', "--wait", "-q", code=1)
    assert ": ERROR: " in result.stderr and "boot" in result.stderr.lower()
    assert "EXPORT_DISK" not in result.stderr  # -q: no bars


def test_migration_wait_timeout_then_cancel(cli_env, endpoints):
    created = run_json(cli_env, "migration", "create", "--origin-endpoint", "src", "--destination-endpoint", "dst",
                       "--instance", "slow-1", "--source-env",
                       '{"disk_size_mb": 64, "data_fraction": 1.0, "rate_mbps": 2}')
    timed_out = run(cli_env, "migration", "show", created["id"], "--wait", "--timeout", "1.5", code=3)
    assert "stopped waiting" in timed_out.stderr
    busy = run(cli_env, "migration", "delete", created["id"], code=1)
    assert "409 conflict" in busy.stderr
    run(cli_env, "migration", "cancel", created["id"])
    canceled = run(cli_env, "migration", "show", created["id"], "--wait", "--timeout", "90", code=2)
    assert "CANCELED" in canceled.stderr


def test_transfer_execution_deployment_schedule(cli_env, endpoints):
    transfer = run_json(cli_env, "transfer", "create", "--origin-endpoint", "src", "--destination-endpoint", "dst",
                        "--instance", "app-1", "--source-env", '{"disk_size_mb": 8}', "--no-clone-disks")
    tid = transfer["id"]
    assert transfer["clone_disks"] is False and transfer["scenario"] == "replica"
    assert [t["id"] for t in run_json(cli_env, "transfer", "list")] == [tid]
    assert run_json(cli_env, "transfer", "update", tid, "--notes", "nightly")["notes"] == "nightly"

    execution = json.loads(run(cli_env, "execution", "create", tid, "--wait", "-f", "json").stdout)
    # number 1 is the update above, on record as a completed execution (as upstream lists it)
    assert execution["status"] == "COMPLETED" and execution["number"] == 2
    listed = run_json(cli_env, "execution", "list", tid)
    assert [e["id"] for e in listed if e["type"] == "transfer_execution"] == [execution["id"]]
    assert run_json(cli_env, "execution", "show", tid, execution["id"])["action_id"] == tid
    assert run_json(cli_env, "transfer", "show", tid)["last_execution_status"] == "COMPLETED"

    deployment = json.loads(run(cli_env, "deployment", "create", tid, "--test", "--wait", "-f", "json").stdout)
    assert deployment["status"] == "COMPLETED" and deployment["test_deployment"] is True
    assert [d["id"] for d in run_json(cli_env, "deployment", "list")] == [deployment["id"]]
    assert run_json(cli_env, "deployment", "show", deployment["id"])["transfer_id"] == tid
    run(cli_env, "deployment", "delete", deployment["id"])

    schedule = run_json(cli_env, "schedule", "create", tid, "--minute", "0", "--hour", "2", "--auto-deploy")
    assert schedule["schedule"] == {"minute": 0, "hour": 2} and schedule["auto_deploy"] is True
    assert [s["id"] for s in run_json(cli_env, "schedule", "list", tid)] == [schedule["id"]]
    assert run_json(cli_env, "schedule", "show", tid, schedule["id"])["enabled"] is True
    changed = run_json(cli_env, "schedule", "update", tid, schedule["id"], "--disabled")
    assert changed["enabled"] is False and changed["schedule"] == {"minute": 0, "hour": 2}
    assert "400 badRequest" in run(cli_env, "schedule", "create", tid, "--minute", "61", code=1).stderr
    run(cli_env, "schedule", "delete", tid, schedule["id"])
    assert run_json(cli_env, "schedule", "list", tid) == []

    run(cli_env, "execution", "delete", tid, execution["id"])
    run(cli_env, "transfer", "delete-disks", tid)
    run(cli_env, "transfer", "delete", tid)
    assert run_json(cli_env, "transfer", "list") == []


def test_execution_cancel(cli_env, endpoints):
    transfer = run_json(cli_env, "transfer", "create", "--origin-endpoint", "src", "--destination-endpoint", "dst",
                        "--instance", "big-1", "--source-env", '{"disk_size_mb": 64, "data_fraction": 1.0, '
                        '"rate_mbps": 2}')
    execution = run_json(cli_env, "execution", "create", transfer["id"])
    run(cli_env, "execution", "cancel", transfer["id"], execution["id"])
    waited = run(cli_env, "execution", "show", transfer["id"], execution["id"], "--wait", "--timeout", "90", code=2)
    assert "CANCELED" in waited.stderr
