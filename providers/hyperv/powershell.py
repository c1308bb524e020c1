"""PowerShell text: values quoted as literals (never interpolated), scripts assembled, JSON output parsed."""

from __future__ import annotations

import json
from typing import Any

from providers.types import ProviderError

# PowerShell treats the typographic single quotes as quote characters too
# (about_Quoting_Rules): each must be doubled inside a single-quoted literal.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
PARAMS_END = "# end of parameters"
HEADER = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n"


def quote(value: str | int | None) -> str:
    """``value`` as a PowerShell literal: a single-quoted string (no ``$`` expansion, no subexpressions).

    Integers are written as they are and None as ``$null``; NUL and line breaks are refused.
    """
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if any(c in text for c in "\x00\r\n"):
        raise ProviderError(f"a value sent to PowerShell holds a NUL or line break: {text[:60]!r}")
    return "'" + "".join(c + c if c in SINGLE_QUOTES else c for c in text) + "'"


def script(operation: str, body: str, **params: str | int | None) -> str:
    """A whole script: strict error handling, the parameters as quoted ``$name = '...'`` lines, then ``body``.

    ``body`` is fixed text of ours that only refers to the parameters by variable; ``operation``
    names it in a first comment line (it shows in the host's PowerShell logs).
    """
    lines = [f"# coriolis: {operation}", HEADER.rstrip("\n")]
    for name, value in params.items():
        if not name.isidentifier():
            raise ValueError(f"bad parameter name {name!r}")
        lines.append(f"${name} = {quote(value)}")
    lines.append(PARAMS_END)
    return "\n".join(lines) + "\n" + body.strip("\n") + "\n"


def parse_json(text: str, what: str) -> list[dict[str, Any]]:
    """The objects in ``ConvertTo-Json`` output: a list even when PowerShell wrote one object or nothing."""
    text = (text or "").strip().lstrip("\ufeff")
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        raise ProviderError(f"{what}: the host answered something that is not JSON: {text[:200]!r}") from None
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    raise ProviderError(f"{what}: unexpected JSON from the host: {text[:200]!r}")


def as_list(value: Any) -> list[Any]:
    """A JSON property that PowerShell writes as one value, a list or null, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
