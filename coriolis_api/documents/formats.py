"""The JSON Schemas of ``schemas/``: upstream Coriolis' document formats, stated in our own words."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parent / "schemas"
NAMES = ("vm_export_info", "vm_network", "vm_storage", "network_map", "storage_mappings", "volumes_info")


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 7) of the document format ``name`` (one of ``NAMES``)."""
    if name not in NAMES:
        raise KeyError(name)
    return json.loads((SCHEMAS / f"{name}.json").read_text())
