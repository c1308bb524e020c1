"""Reading what commands take from files and the environment: JSON/YAML documents, KEY=VALUE maps."""

from __future__ import annotations

import json
import os
from typing import Any

import click
import yaml


def read_document(path: str, what: str) -> dict[str, Any]:
    """A JSON or YAML mapping from a file (``-``: standard input)."""
    try:
        if path == "-":
            text = click.get_text_stream("stdin").read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{what} file {path} is neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{what} file {path} must hold a mapping")
    return data


def read_env_document(var: str, what: str) -> dict[str, Any]:
    """A JSON mapping from an environment variable; the value is never shown back."""
    raw = os.environ.get(var)
    if raw is None:
        raise click.BadParameter(f"environment variable {var} is not set ({what})")
    try:
        data = json.loads(raw)
    except ValueError:
        raise click.BadParameter(f"environment variable {var} does not hold JSON ({what})") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"environment variable {var} must hold a JSON object ({what})")
    return data


def connection_info(file: str | None, env: str | None) -> dict[str, Any] | None:
    """Connection info from ``--connection-info-file`` or ``--connection-info-env`` (one of them)."""
    if file and env:
        raise click.UsageError("give --connection-info-file or --connection-info-env, not both")
    if file:
        return read_document(file, "connection info")
    if env:
        return read_env_document(env, "connection info")
    return None


def key_values(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``SRC=DST`` pairs as a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{what} {pair!r} is not KEY=VALUE")
        out[key] = value
    return out


def json_or_file(value: str | None, file: str | None, what: str) -> dict[str, Any] | None:
    """A mapping given inline as JSON or in a JSON/YAML file."""
    if value and file:
        raise click.UsageError(f"give {what} inline or from a file, not both")
    if file:
        return read_document(file, what)
    if value:
        try:
            data = json.loads(value)
        except ValueError:
            raise click.BadParameter(f"{what} is not JSON") from None
        if not isinstance(data, dict):
            raise click.BadParameter(f"{what} must be a JSON object")
        return data
    return None
