"""``coriolis batch run plan.yaml [--dry-run] [--report-dir D]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from coriolis_client.batch.plan import PlanError, load_plan
from coriolis_client.batch.preflight import run_preflight
from coriolis_client.batch.runner import PlanRun
from coriolis_client.commands.base import Config, command
from coriolis_client.output import console, show_list


@click.group("batch")
def batch() -> None:
    """Batch plans: many VMs in waves (see the docs for the plan format)."""


@command(batch, "run")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check endpoints, VMs, maps and capacity; start nothing")
@click.option("--report-dir", type=click.Path(file_okay=False), default=None,
              help="where the report and the state file go (default: beside the plan)")
def run(cfg: Config, plan_file, dry_run, report_dir):
    """Run a plan; rerun it to resume (completed VMs are skipped). Exit 0 when every VM completed."""
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        click.echo(f"coriolis: {exc}", err=True)
        sys.exit(1)
    out_dir = Path(report_dir) if report_dir else None
    err = console(stderr=True)
    if dry_run:
        pre = run_preflight(cfg.client, plan)
        rows = [c.to_dict() for c in pre.checks]
        show_list(rows, ("check", "subject", "status", "message"), cfg.fmt)
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"{plan.path.stem}.preflight.json").write_text(json.dumps(rows, indent=2))
        failed = sum(1 for c in pre.checks if c.status == "failed")
        err.print(f"preflight: {'passed' if pre.ok else f'{failed} check(s) failed'}", markup=False)
        sys.exit(0 if pre.ok else 1)

    def say(line: str) -> None:
        err.print(line, markup=False, highlight=False)

    report = PlanRun(cfg.client, plan, out_dir, say).run()
    rows = report["vms"]
    show_list(rows, ("vm", "wave", "status", "duration_s", "bytes", "boot_result", "error"), cfg.fmt)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(report["summary"].items()))
    say(f"plan {plan.name}: {summary}; report in {(out_dir or plan.path.parent) / plan.path.stem}.report.json")
    sys.exit(0 if all(r["status"] == "COMPLETED" for r in rows) else 1)


GROUPS = (batch,)
