"""How the CLI prints documents: a rich table for people, JSON or YAML for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "yaml")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def console(stderr: bool = False) -> Console:
    """A console that wraps nothing when the output is not a terminal (scripts, pipes)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 200, soft_wrap=not stream.isatty())


def _dump(data: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=True).rstrip())


def show_list(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """A list: one row per record in a table, or the whole records as JSON/YAML."""
    if fmt != "table":
        _dump(list(rows), fmt)
        return
    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console().print(table)


def show_one(doc: dict[str, Any], fmt: str, hide: Sequence[str] = ()) -> None:
    """One record: a field/value table, or the record as JSON/YAML."""
    if fmt != "table":
        _dump(doc, fmt)
        return
    table = Table("field", "value", show_lines=False)
    for key in sorted(doc):
        if key not in hide:
            table.add_row(key, _cell(doc[key]))
    console().print(table)


def show_value(data: Any, fmt: str) -> None:
    """Any other answer (a validation result, a schema): JSON for tables too when it is nested."""
    if fmt == "table" and isinstance(data, dict) and all(not isinstance(v, dict | list) for v in data.values()):
        show_one(data, fmt)
    else:
        _dump(data, "json" if fmt == "table" else fmt)
