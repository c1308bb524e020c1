"""The systemd units of deploy/systemd: ``systemd-analyze verify`` passes, each ExecStart is a real command line."""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coriolis.config import Settings

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/coriolis/venv/bin/coriolis"
COMMAND = str(Path(sys.executable).parent / "coriolis")
# the unit each file is verified as: a template needs an instance
AS = {
    "coriolis-api.service": "coriolis-api.service",
    "coriolis-beat.service": "coriolis-beat.service",
    "coriolis-flower.service": "coriolis-flower.service",
    "coriolis-worker@.service": r"coriolis-worker@export\x2cconvert.service",
}


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "systemd"], check=True, capture_output=True)
        tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing and could not be installed (apt-get install systemd)"
    return tool


def test_every_unit_file_is_checked():
    assert {p.name for p in UNITS.glob("*.service")} == set(AS)


@pytest.mark.parametrize("name", sorted(AS))
def test_unit_verifies(name, tmp_path):
    """The unit as installed, with its ExecStart pointed at this checkout's ``coriolis``."""
    unit = tmp_path / AS[name]
    unit.write_text((UNITS / name).read_text().replace(INSTALLED, COMMAND))
    result = subprocess.run(
        [_systemd_analyze(), "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "is not executable" not in result.stderr and "Unknown" not in result.stderr, result.stderr


@pytest.mark.parametrize("name", sorted(AS))
def test_exec_start_parses(name):
    """``coriolis <subcommand> <its arguments> --help`` exits 0: the subcommand and options exist."""
    (line,) = re.findall(r"^ExecStart=(.+)$", (UNITS / name).read_text(), re.M)
    argv = shlex.split(line.replace("%I", "export,convert"))
    assert argv[0] == INSTALLED
    result = subprocess.run([COMMAND, *argv[1:], "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"usage: coriolis {argv[1]}" in result.stdout


def test_environment_file_names_every_setting():
    text = (UNITS / "coriolis.env").read_text()
    named = set(re.findall(r"^#?CORIOLIS_([A-Z0-9_]+)=", text, re.M))
    assert {f.name.upper() for f in dataclasses.fields(Settings)} <= named
    assert re.search(r"^CORIOLIS_LOG_FORMAT=json$", text, re.M)
