"""The compose and Kubernetes files parse and run only real ``coriolis`` command lines (they are not deployed here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMMAND = str(Path(sys.executable).parent / "coriolis")


def _commands() -> set[tuple[str, ...]]:
    found = set()
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        if service.get("command", [None])[0] == "coriolis":
            found.add(tuple(service["command"]))
    for path in (DEPLOY / "kubernetes").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    found.add(tuple(a.replace("$(POD_NAME)", "pod-1") for a in container["command"]))
    return found


def test_manifests_run_existing_subcommands():
    commands = _commands()
    assert {c[1] for c in commands} == {"api", "worker", "beat", "flower"}
    for argv in commands:
        result = subprocess.run([COMMAND, *argv[1:], "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (argv, result.stderr)


def test_staging_volume_is_shared_read_write_many():
    (claim,) = yaml.safe_load_all((DEPLOY / "kubernetes" / "01-staging-pvc.yaml").read_text())
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
