"""`make demo`: start the whole service on embedded defaults and run one migration end to end.

Starts `coriolis all-in-one` (embedded Redis, SQLite, the API and one worker per queue) with
its state under ./var/demo, submits a migration through the REST API, shows its progress live
and prints a summary. The service is stopped at the end (pass --keep to leave it running).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "var" / "demo"
PORT = int(os.environ.get("CORIOLIS_API_PORT", "7667"))
API = f"http://127.0.0.1:{PORT}"
PROJECT = "demo"


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{API}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_healthy(proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the service exited early ({proc.returncode}); see {STATE / 'service.log'}")
        try:
            if call("GET", "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("the API did not become healthy in time")


def show(migration: dict) -> str:
    lines = [f"  migration {migration['id'][:8]}  {migration['status']:<10} {migration['progress']['percent']:5.1f}%"]
    for task in migration.get("tasks", []):
        live = task.get("progress") or {}
        pct = f"{live['percent']:5.1f}%" if live.get("percent") is not None else "      "
        msg = live.get("message") or (task["events"][-1]["message"] if task["events"] else "")
        disk = f" {task['disk_id']}" if task.get("disk_id") else ""
        lines.append(f"    {task['instance']:<12} {task['task_type'] + disk:<32} {task['status']:<10} {pct} {msg[:60]}")
    return "\n".join(lines)


def migration_body(kind: str) -> dict:
    from demo_source import build_body  # the demo's source: see deploy/demo_source.py

    return build_body(kind, STATE)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="leave the service running")
    parser.add_argument("--source", default=os.environ.get("CORIOLIS_DEMO_SOURCE", "ova"), choices=["ova", "stub"])
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    for old in STATE.glob("coriolis.sqlite*"):  # each demo starts from an empty database
        old.unlink()
    sys.path.insert(0, str(ROOT / "deploy"))
    sys.path.insert(0, str(ROOT))
    body = migration_body(args.source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORIOLIS_")}
    env.update(CORIOLIS_STATE_DIR=str(STATE), CORIOLIS_API_PORT=str(PORT))
    if args.source == "stub":  # the stub provider is registered only when enabled
        env["CORIOLIS_ENABLE_STUB_PROVIDER"] = "1"
    log = open(STATE / "service.log", "ab")
    print(f"starting coriolis all-in-one (state in {STATE}, log in {STATE / 'service.log'})")
    service = subprocess.Popen(
        [sys.executable, "-m", "coriolis.cli", "all-in-one"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(service)
        print(f"API up at {API}; submitting a migration")
        code, created = call("POST", f"/v1/{PROJECT}/migrations", body)
        if code != 202:
            print(json.dumps(created, indent=2))
            return 1
        mid = created["migration"]["id"]
        started = time.monotonic()
        last = ""
        while True:
            code, data = call("GET", f"/v1/{PROJECT}/migrations/{mid}")
            migration = data["migration"]
            text = show(migration)
            if text != last:
                print(f"\n[{time.monotonic() - started:6.1f}s]\n{text}", flush=True)
                last = text
            if migration["status"] in ("COMPLETED", "ERROR", "CANCELED"):
                break
            time.sleep(1)
        return summarize(migration, time.monotonic() - started)
    finally:
        if not args.keep:
            os.killpg(service.pid, signal.SIGTERM)
            service.wait(60)


def summarize(migration: dict, seconds: float) -> int:
    print("\n==================== summary ====================")
    print(f"migration {migration['id']}: {migration['status']} in {seconds:.1f} s")
    if migration["status"] != "COMPLETED":
        print(f"reason: {migration['last_error']}")
        return 1
    for name, result in migration["transfer_result"].items():
        boot = result.get("boot") or {}
        print(f"instance {name!r} -> {result['name']}")
        for disk in result.get("disks", []):
            print(f"  disk {disk['disk_id']}: {disk['format']} at {disk['path']}")
        seconds_txt = f"{boot['seconds']:.1f} s" if boot.get("seconds") is not None else "-"
        print(f"  boot: {'booted' if boot.get('booted') else 'did not boot'} ({seconds_txt}) {boot.get('message', '')}")
        if "rootdev=/dev/vd" in boot.get("message", ""):
            root = boot["message"].split("rootdev=", 1)[1].split()[0]
            print(f"  => the migrated guest booted on virtio (root {root}) in {seconds_txt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
