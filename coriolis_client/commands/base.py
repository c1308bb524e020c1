"""What every client command shares: the connection options, the ``Config`` they fill, error exits."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from coriolis_client import errors
from coriolis_client.client import DEFAULT_URL, Client
from coriolis_client.output import FORMATS

COMMANDS = ("endpoint", "provider", "migration", "transfer", "execution", "deployment", "schedule", "batch")


class Config:
    """What the options say; the client is built on first use (after every option was seen)."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.project: str | None = None
        self.token: str | None = None
        self.fmt: str = "table"
        self._client: Client | None = None

    def merge(self, url: str | None, project: str | None, token: str | None, fmt: str | None) -> None:
        self.url = url or self.url
        self.project = project or self.project
        self.token = token or self.token
        self.fmt = fmt or self.fmt

    @property
    def client(self) -> Client:
        if self._client is None:
            project = self.project or os.environ.get("CORIOLIS_PROJECT") or os.environ.get("OS_PROJECT_ID")
            if not project:
                raise click.UsageError("give --project or set CORIOLIS_PROJECT")
            token = self.token or os.environ.get("CORIOLIS_TOKEN") or os.environ.get("OS_TOKEN")
            url = self.url or os.environ.get("CORIOLIS_URL") or DEFAULT_URL
            self._client = Client(url, project, token=token)
        return self._client


def connection_options(func: Callable) -> Callable:
    func = click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="output format (table for people; json or yaml for scripts)")(func)
    func = click.option("--token", default=None, help="Keystone token [CORIOLIS_TOKEN, OS_TOKEN]")(func)
    func = click.option("--project", default=None, help="project id [CORIOLIS_PROJECT]")(func)
    return click.option("--url", default=None, help=f"API root [CORIOLIS_URL; {DEFAULT_URL}]")(func)


def command(group: click.Group, name: str | None = None, **kwargs: Any) -> Callable:
    """A leaf command of ``group`` that accepts the connection options and gets the ``Config``."""

    def wrap(func: Callable) -> click.Command:
        @functools.wraps(func)
        def run(url, project, token, fmt, **params):
            cfg = click.get_current_context().find_object(Config)
            cfg.merge(url, project, token, fmt)
            try:
                return func(cfg, **params)
            except errors.APIError as exc:
                click.echo(f"coriolis: {exc.code} {exc.fault or 'error'}: {exc.message}", err=True)
                sys.exit(1)
            except errors.ConnectionFailed as exc:
                click.echo(f"coriolis: {exc}", err=True)
                sys.exit(1)

        return group.command(name, **kwargs)(connection_options(run))

    return wrap
