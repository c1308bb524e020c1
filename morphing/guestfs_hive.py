"""A guest's registry hive opened inside the appliance: python-hivex's method names over ``hivex_*``.

libguestfs parses the hive in its appliance (the daemon's hivex), so a hostile hive never meets a
parser on the worker host. One hive is open per handle at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class GuestfsHive:
    """The ``HiveHandle`` shape (morphing/registry.py) over an appliance handle with a hive open."""

    def __init__(self, g: Any) -> None:
        self.g = g

    def root(self) -> int:
        return self.g.hivex_root()

    def node_get_child(self, node: int, name: str) -> int | None:
        return self.g.hivex_node_get_child(node, name) or None

    def node_children(self, node: int) -> list[int]:
        return [child["hivex_node_h"] for child in self.g.hivex_node_children(node)]

    def node_name(self, node: int) -> str:
        return self.g.hivex_node_name(node)

    def node_values(self, node: int) -> list[int]:
        return [value["hivex_value_h"] for value in self.g.hivex_node_values(node)]

    def value_key(self, value: int) -> str:
        return self.g.hivex_value_key(value)

    def value_value(self, value: int) -> tuple[int, bytes]:
        return self.g.hivex_value_type(value), self.g.hivex_value_value(value)

    def node_add_child(self, parent: int, name: str) -> int:
        return self.g.hivex_node_add_child(parent, name)

    def node_set_value(self, node: int, value: dict[str, Any]) -> None:
        self.g.hivex_node_set_value(node, value["key"], value["t"], value["value"])

    def commit(self, filename: str | None) -> None:
        self.g.hivex_commit(filename)


@contextlib.contextmanager
def open_guest_hive(g: Any, guest_path: str, write: bool = False) -> Iterator[GuestfsHive]:
    """Open a hive of the mounted guest for the block (changes are kept only on ``commit``).

    Raises:
        OSError: the file is missing or not a hive (libguestfs' message kept).
    """
    if not g.is_file(guest_path):
        raise OSError(f"no registry hive at {guest_path}")
    try:
        g.hivex_open(guest_path, write=write)
    except RuntimeError as exc:
        raise OSError(f"{guest_path} is not a readable registry hive: {exc}") from exc
    try:
        yield GuestfsHive(g)
    finally:
        with contextlib.suppress(RuntimeError):
            g.hivex_close()
