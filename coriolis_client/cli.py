"""The client half of the ``coriolis`` command: a click group the service command delegates to.

``coriolis endpoint|migration|transfer|execution|deployment|schedule|provider|batch ...``; the
connection options (``--url``, ``--project``, ``--token``) and ``-f table|json|yaml`` are read from
the environment (``CORIOLIS_URL``, ``CORIOLIS_PROJECT``, ``CORIOLIS_TOKEN`` or ``OS_TOKEN``) and
may be given before the noun or after the verb.
"""

from __future__ import annotations

import click

from coriolis_client.commands import batch, endpoints, runs, transfers
from coriolis_client.commands.base import COMMANDS, Config, connection_options

__all__ = ["COMMANDS", "cli", "main"]


@click.group(name="coriolis", context_settings={"help_option_names": ["-h", "--help"]})
@connection_options
@click.pass_context
def cli(ctx: click.Context, url, project, token, fmt) -> None:
    """Coriolis client commands (the service commands are `coriolis api|worker|beat|...`)."""
    ctx.ensure_object(Config).merge(url, project, token, fmt)


for _module in (endpoints, runs, transfers, batch):
    for _group in _module.GROUPS:
        cli.add_command(_group)


def main(argv: list[str] | None = None) -> int:
    """Run a client command; answers its exit code."""
    try:
        cli.main(args=argv, prog_name="coriolis", standalone_mode=True, obj=Config())
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
