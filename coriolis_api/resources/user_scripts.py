"""User scripts in upstream Coriolis' normalised form: ``{"global": {os: [...]}, "instances": {id: [...]}}``.

Every script list item is ``{"phase", "payload"}``; a bare string is one script of the default phase.
``null`` (what the clients send when no script is given) means ``{}``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

OS_TYPES = ("bsd", "linux", "osx", "solaris", "windows")
PHASES = ("osmorphing_pre_os_mount", "osmorphing_post_os_mount", "replica_first_boot")
DEFAULT_PHASE = "osmorphing_post_os_mount"
MAX_PAYLOAD = 65536


def _scripts(value: Any, where: str, unify_newlines: bool) -> list[dict[str, str]]:
    if value is None:
        return []
    items = [{"payload": value}] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValidationError(f"{where}: a script (string) or a list of {{phase, payload}} objects")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"phase", "payload"}:
            raise ValidationError(f"{where}[{n}]: an object with only 'phase' and 'payload'")
        phase = item.get("phase") or DEFAULT_PHASE
        payload = item.get("payload")
        if phase not in PHASES:
            raise ValidationError(f"{where}[{n}].phase: one of {', '.join(PHASES)}")
        if not isinstance(payload, str) or not payload.strip("\r\n "):
            raise ValidationError(f"{where}[{n}].payload: a non-empty script")
        if len(payload) > MAX_PAYLOAD:
            raise ValidationError(f"{where}[{n}].payload: at most {MAX_PAYLOAD} characters")
        if unify_newlines:
            payload = payload.replace("\r\n", "\n").replace("\n\r", "\n")
        out.append({"phase": phase, "payload": payload})
    return out


def normalise(value: Any) -> dict[str, Any]:
    """Validate ``user_scripts`` and return upstream's normalised form (``ValidationError`` when invalid)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"global", "instances"}:
        raise ValidationError("an object with 'global' and/or 'instances'")
    out: dict[str, Any] = {}
    if value.get("global") is not None:
        scripts = value["global"]
        if not isinstance(scripts, dict):
            raise ValidationError("global: an object mapping an OS type to its scripts")
        bad = sorted(set(scripts) - set(OS_TYPES))
        if bad:
            raise ValidationError(f"global: unknown OS type {bad[0]!r}; one of {', '.join(OS_TYPES)}")
        out["global"] = {os: _scripts(s, f"global.{os}", os == "linux") for os, s in scripts.items()}
    if value.get("instances") is not None:
        scripts = value["instances"]
        if not isinstance(scripts, dict):
            raise ValidationError("instances: an object mapping an instance to its scripts")
        out["instances"] = {name: _scripts(s, f"instances.{name}", True) for name, s in scripts.items()}
    return out


def merge(stored: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any]:
    """A transfer update's scripts over the stored ones, per OS type and per instance (as upstream merges)."""
    stored = stored or {}
    return {
        "global": {**(stored.get("global") or {}), **(update.get("global") or {})},
        "instances": {**(stored.get("instances") or {}), **(update.get("instances") or {})},
    }


class UserScripts(fields.Field):
    """The ``user_scripts`` field: validated and normalised on load; ``null`` is ``{}``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return normalise(value)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is None:
            return {}
        return super().deserialize(value, attr, data, **kwargs)
