"""Running the ``coriolis`` client commands in-process (click's runner) against the test API."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from coriolis_client.cli import cli
from coriolis_client.commands.base import Config


def run(env: dict[str, str], *args: str, code: int | None = 0) -> Result:
    """Run ``coriolis <args>`` with the user's environment; check its exit code when ``code`` is given."""
    result = CliRunner().invoke(cli, list(args), env=env, obj=Config(), catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result


def run_json(env: dict[str, str], *args: str, code: int | None = 0) -> Any:
    """Run a command with ``-f json`` and decode what it printed."""
    return json.loads(run(env, *args, "-f", "json", code=code).stdout)
