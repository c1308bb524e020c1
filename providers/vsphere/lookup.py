"""The choices of the vsphere source's options, looked up in the inventory (``OptionLookup``)."""

from __future__ import annotations

from typing import Any

from providers.abilities import run_lookups
from providers.vsphere.client import VsphereClient


def source_options(client: VsphereClient, names: frozenset[str] | None) -> list[dict[str, Any]]:
    """VM folders and clusters as inventory paths (``DC0/vm/prod``, ``DC0/host/DC0_C0``), those in ``names``
    only when given."""
    return run_lookups({
        "folder": lambda: sorted({client.inventory_path(f) for f in client.vm_folders()}),
        "cluster": lambda: sorted({client.inventory_path(c) for c in client.clusters()}),
    }, names)
