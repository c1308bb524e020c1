"""An endpoint's option choices (``/source-options``, ``/destination-options``) and inventory CSV.

The choices are what the provider's option schema fixes (its enumerations, with the default), merged
with what a provider with the ``OptionLookup`` ability finds in its cloud (flavors, networks, key
pairs...), asked of a worker (where the endpoint's secrets are resolved). Minion pool options are
always empty (no pools).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, validate
from marshmallow.utils import missing

from providers.registry import made_class


def _choices(field) -> list[Any] | None:
    validators = field.validators if isinstance(field.validators, list) else [field.validators]
    for v in validators:
        if isinstance(v, validate.OneOf):
            return list(v.choices)
    return None


def option_choices(schema_cls: type[Schema], names: list[str] | None,
                   looked_up: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """``[{"name", "values", "config_default"?}]`` for every option of ``schema_cls`` with choices, in the schema's
    order: its fixed choices (enumerations) first, else those ``looked_up`` in the cloud; the schema's default,
    else the cloud's, as ``config_default``."""
    found = {entry["name"]: entry for entry in looked_up}
    out = []
    for name, field in schema_cls().fields.items():
        key = field.data_key or name
        if names and key not in names:
            continue
        cloud = found.get(key)
        values = _choices(field)
        if values is None and cloud is not None:
            values = list(cloud["values"])
        if values is None:
            continue
        option: dict[str, Any] = {"name": key, "values": values}
        default = field.load_default
        if default is not missing and not callable(default) and default is not None:
            option["config_default"] = default
        elif cloud is not None and cloud.get("config_default") is not None:
            option["config_default"] = cloud["config_default"]
        out.append(option)
    return out


def looks_options_up(factory: Callable | None) -> bool:
    """Whether the class a provider factory returns has the ``OptionLookup`` ability: only then is a worker
    asked (the API learns it from the factory's annotation, without making a provider)."""
    return callable(getattr(made_class(factory), "lookup_options", None))


def _name_list(raw: str) -> list[str] | None:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return [n.strip() for n in value if n.strip()]
    return None


def names_of(text: str | None) -> list[str] | None:
    """``?options=`` (upstream's name) or ``?option_names=``: the option names asked for, sent as upstream's clients
    send them (python-coriolisclient's ``--options``: a URL-safe base64 JSON list), as a JSON list, or as
    comma-separated names."""
    if not text or not text.strip():
        return None
    raw = text.strip()
    names = _name_list(raw)
    if names is None:
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        names = _name_list(decoded) if decoded else None
    if names is None:
        names = [n.strip() for n in raw.split(",") if n.strip()]
    return names or None


INVENTORY_COLUMNS = ("id", "name", "instance_name", "num_cpu", "memory_mb", "os_type", "power_state")


def inventory_csv(rows: list[dict[str, Any]]) -> str:
    """The endpoint's instances as CSV (upstream's ``/inventory``), one line per instance."""
    out = io.StringIO()
    writer = csv.DictWriter(out, INVENTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # a cell a spreadsheet would run as a formula is quoted as text
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()
