"""Running a plan: one migration per VM, wave after wave, at most ``concurrency`` at a time per wave."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coriolis_client import errors
from coriolis_client.batch.plan import Plan, VmPlan, Wave
from coriolis_client.batch.report import FINAL, PlanState, outcome, state_path, write_report
from coriolis_client.client import Client

Say = Callable[[str], None]


class PlanRun:
    """The state of one ``coriolis batch run``."""

    def __init__(self, client: Client, plan: Plan, report_dir: Path | None, say: Say) -> None:
        self.client = client
        self.plan = plan
        self.report_dir = report_dir or plan.path.parent
        self.state = PlanState(state_path(plan, report_dir), plan)
        self.say = say
        self.resumed: set[str] = set()
        self.origin_id = ""
        self.destination_id = ""

    def _submit(self, vm: VmPlan) -> bool:
        try:
            created = self.client.migrations.create(
                [vm.name], self.origin_id, self.destination_id, notes=f"batch plan {self.plan.name}", **vm.body())
        except errors.APIError as exc:
            self._finish(vm, "ERROR", time.time(), {"error": f"not started: {exc.message}", "bytes": 0,
                                                     "boot_result": "not run"})
            return False
        self.state.update(vm.name, status="RUNNING", migration_id=created["id"], started_at=time.time(),
                          error="", duration_s=None)
        self.say(f"[{vm.wave}] {vm.name}: started migration {created['id']}")
        return True

    def _finish(self, vm: VmPlan, status: str, now: float, fields: dict[str, Any]) -> None:
        started = self.state.vms[vm.name].get("started_at") or now
        self.state.update(vm.name, status=status, finished_at=now, duration_s=round(now - started, 1), **fields)
        reason = f": {fields['error']}" if fields.get("error") else ""
        self.say(f"[{vm.wave}] {vm.name}: {status} in {now - started:.1f} s{reason}")

    def _poll(self, vm: VmPlan) -> bool:
        """Check one running VM; answers whether it is finished."""
        record = self.state.vms[vm.name]
        try:
            run = self.client.migrations.get(record["migration_id"])
        except errors.NotFound:
            self._finish(vm, "ERROR", time.time(), {"error": "its migration was deleted", "bytes": 0,
                                                     "boot_result": "unknown"})
            return True
        if run["status"] in FINAL:
            self._finish(vm, run["status"], time.time(), outcome(run))
            return True
        if vm.timeout and time.time() - record["started_at"] > vm.timeout:
            try:
                self.client.migrations.cancel(run["id"], force=True)
            except errors.Conflict:
                pass
            self._finish(vm, "TIMEOUT", time.time(), {**outcome(run), "error": f"no end after {vm.timeout:g} s; "
                                                       "its migration was cancelled"})
            return True
        return False

    def run_wave(self, wave: Wave) -> None:
        pending: list[VmPlan] = []
        running: list[VmPlan] = []
        for vm in wave.vms:
            record = self.state.vms[vm.name]
            if record.get("status") == "COMPLETED":
                self.resumed.add(vm.name)
                self.say(f"[{wave.name}] {vm.name}: completed by an earlier run; skipped")
            elif record.get("status") == "RUNNING" and record.get("migration_id"):
                running.append(vm)  # started by a run that stopped: follow it, do not start it twice
                self.say(f"[{wave.name}] {vm.name}: following migration {record['migration_id']}")
            else:
                pending.append(vm)
        while pending or running:
            while pending and len(running) < wave.concurrency:
                vm = pending.pop(0)
                if self._submit(vm):
                    running.append(vm)
            running = [vm for vm in running if not self._poll(vm)]
            if running or pending:
                time.sleep(self.plan.poll_interval)

    def run(self) -> dict[str, Any]:
        started = time.time()
        self.origin_id = self.client.endpoints.find(self.plan.origin_endpoint)["id"]
        self.destination_id = self.client.endpoints.find(self.plan.destination_endpoint)["id"]
        self.state.save()
        for wave in self.plan.waves:
            self.say(f"wave {wave.name}: {len(wave.vms)} VMs, {wave.concurrency} at a time")
            self.run_wave(wave)
            failed = [vm.name for vm in wave.vms if self.state.vms[vm.name]["status"] != "COMPLETED"]
            if failed and self.plan.stop_on_failure:
                self.say(f"wave {wave.name}: {len(failed)} VMs did not complete; stopping (stop_on_failure)")
                break
        return write_report(self.plan, self.state, self.report_dir, started, self.resumed)
