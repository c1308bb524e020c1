"""Network and storage listings, and mappings, in upstream's formats (``vm_network``, ``vm_storage``...)."""

from __future__ import annotations

from typing import Any

BACKEND_KEYS = ("id", "name")


def storage(rows: list[dict[str, Any]], default: str | None = None) -> dict[str, Any]:
    """``{"storage_backends": [{"id", "name", "additional_provider_properties"}], "config_default"?}``:
    what a provider adds to a backend (capacity, free space...) goes under ``additional_provider_properties``;
    ``config_default`` only when there is one."""
    backends = []
    for row in rows:
        backend = {k: str(row[k]) for k in BACKEND_KEYS if row.get(k) is not None}
        extra = {k: v for k, v in row.items() if k not in BACKEND_KEYS}
        if extra:
            backend["additional_provider_properties"] = extra
        backends.append(backend)
    out: dict[str, Any] = {"storage_backends": backends}
    if default is not None:
        out["config_default"] = default
    return out


def storage_mappings(value: dict[str, Any] | None) -> dict[str, Any]:
    """Storage mappings as served: an unset ``default`` is left out (upstream's format has no null)."""
    return {k: v for k, v in (value or {}).items() if v is not None}
