"""``coriolis batch run``: a 20-VM plan in two waves with one failing VM, its report, and resume."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from coriolis_client import Client
from coriolis_client.batch.plan import PlanError, load_plan
from tests.coriolis_client.helpers import run, run_json

VMS = [f"vm-{n:02d}" for n in range(20)]
FAILING = "vm-13"


@pytest.fixture()
def plan_file(cli_env, tmp_path, dest_dir):
    env = {**cli_env, "SRC": json.dumps({"instances": VMS})}
    run(env, "endpoint", "create", "--name", "lab", "--type", "stub", "--connection-info-env", "SRC")
    env = {**cli_env, "DST": json.dumps({"storage_dir": str(dest_dir)})}
    run(env, "endpoint", "create", "--name", "cloud", "--type", "stub", "--connection-info-env", "DST")
    plan = {
        "version": 1,
        "name": "lab-evacuation",
        "origin_endpoint": "lab",
        "destination_endpoint": "cloud",
        "poll_interval": 0.3,
        "defaults": {"source_environment": {"disk_size_mb": 2}, "network_map": {"stub-net": "prod"}},
        "waves": [
            {"name": "first", "concurrency": 4, "vms": VMS[:8]},
            {"name": "second", "concurrency": 6, "vms": [
                {"name": vm, "destination_environment": {"fail_boot": True}} if vm == FAILING
                else {"name": vm, "network_map": {"stub-net": "dmz"}, "storage_mappings": {"default": "ssd"}}
                if vm == "vm-19" else vm
                for vm in VMS[8:]
            ]},
        ],
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_dry_run_passes_and_says_what_it_skips(cli_env, plan_file, tmp_path):
    checks = run_json(cli_env, "batch", "run", str(plan_file), "--dry-run", "--report-dir", str(tmp_path / "r"))
    by_check = {(c["check"], c["status"]) for c in checks}
    assert ("endpoint validates", "ok") in by_check and ("VMs exist", "ok") in by_check
    skipped = {c["check"]: c["message"] for c in checks if c["status"] == "skipped"}
    # what the source reports the disks need (the stub's default 16 MiB: the instances API has no environment)
    assert str(20 * 16 << 20) in skipped["destination capacity"]
    assert "destination networks" in skipped
    assert not any(c["status"] == "failed" for c in checks)
    assert (tmp_path / "r" / "plan.preflight.json").exists()
    assert Client(cli_env["CORIOLIS_URL"], cli_env["CORIOLIS_PROJECT"]).migrations.list() == []


def test_dry_run_finds_what_is_wrong(cli_env, plan_file):
    plan = yaml.safe_load(plan_file.read_text())
    plan["waves"][0]["vms"] += ["ghost-vm"]
    plan["waves"][0]["vms"][0] = {"name": VMS[0], "network_map": {"lan-x": "prod"}}
    plan["waves"][1]["vms"][0] = {"name": VMS[8], "flavor": "m1.large"}
    plan_file.write_text(yaml.safe_dump(plan))
    result = run(cli_env, "batch", "run", str(plan_file), "--dry-run", "-f", "json", code=1)
    failed = {(c["check"], c["subject"]): c["message"] for c in json.loads(result.stdout) if c["status"] == "failed"}
    assert "not found" in failed[("VM exists", "ghost-vm")]
    assert "20 of 21" in failed[("VMs exist", "source")]
    assert "lan-x" in failed[("network map", VMS[0])] and "stub-net" in failed[("network map", VMS[0])]
    assert "flavor_name" in failed[("destination options", VMS[8])]
    assert "check(s) failed" in result.stderr


def test_plan_file_problems_are_all_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"origin_endpoint": "a", "waves": [
        {"concurrency": 0, "vms": ["a", "a", {"nam": "b"}]}], "extra": 1}))
    with pytest.raises(PlanError) as err:
        load_plan(path)
    text = "\n".join(err.value.problems)
    for expected in ("destination_endpoint: required", "waves[0].concurrency", "'a' is already in",
                     "waves[0].vms[2]", "extra: unknown key"):
        assert expected in text


def test_twenty_vms_one_fails_then_resume_skips_completed(cli_env, plan_file, tmp_path):
    report_dir = tmp_path / "report"
    result = run(cli_env, "batch", "run", str(plan_file), "--report-dir", str(report_dir), code=1)
    assert "19 COMPLETED" in result.stderr and "1 ERROR" in result.stderr

    report = json.loads((report_dir / "plan.report.json").read_text())
    rows = {r["vm"]: r for r in report["vms"]}
    assert report["summary"] == {"COMPLETED": 19, "ERROR": 1}
    failed = rows[FAILING]
    assert failed["status"] == "ERROR" and "boot" in failed["error"].lower()
    assert failed["boot_result"].startswith("failed:") and failed["wave"] == "second"
    for vm in set(VMS) - {FAILING}:
        assert rows[vm]["status"] == "COMPLETED" and rows[vm]["bytes"] == 2 << 20, rows[vm]
        assert rows[vm]["boot_result"].startswith("booted") and rows[vm]["duration_s"] > 0
    with open(report_dir / "plan.report.csv", newline="") as fh:
        csv_rows = {r["vm"]: r for r in csv.DictReader(fh)}
    assert csv_rows[FAILING]["status"] == "ERROR" and csv_rows[FAILING]["error"] == failed["error"]
    assert len(csv_rows) == 20

    client = Client(cli_env["CORIOLIS_URL"], cli_env["CORIOLIS_PROJECT"])
    migrations = list(client.migrations.iter_all(page_size=7))
    assert len(migrations) == 20
    _assert_waves_and_concurrency(migrations)
    vm19 = next(m for m in migrations if m["instances"] == ["vm-19"])
    assert vm19["network_map"] == {"stub-net": "dmz"} and vm19["storage_mappings"]["default"] == "ssd"

    # the second run skips the 19 completed VMs and tries the failed one again
    again = run(cli_env, "batch", "run", str(plan_file), "--report-dir", str(report_dir), code=1)
    assert again.stderr.count("completed by an earlier run; skipped") == 19
    report = json.loads((report_dir / "plan.report.json").read_text())
    assert sum(r["resumed"] for r in report["vms"]) == 19
    assert len(list(client.migrations.iter_all())) == 21


def _assert_waves_and_concurrency(migrations: list[dict]) -> None:
    """No more than a wave's concurrency ran at once, and the second wave began after the first ended."""
    spans = {m["instances"][0]: (m["created_at"], m["finished_at"]) for m in migrations}
    for vms, limit in ((VMS[:8], 4), (VMS[8:], 6)):
        for vm in vms:
            start = spans[vm][0]
            overlapping = [v for v in vms if spans[v][0] <= start < spans[v][1]]
            assert len(overlapping) <= limit, (vm, overlapping)
    assert max(spans[v][1] for v in VMS[:8]) <= min(spans[v][0] for v in VMS[8:])
