"""Windows registry hives: typed values, key paths, and edits over a hivex handle.

The handle is python-hivex's ``Hivex`` (a hive file a test made) or the appliance's adapter of
libguestfs' ``hivex_*`` calls, which parse the guest's hive inside the appliance, never on the
host. Key lookups are case-insensitive, as Windows' are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

REG_NONE, REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD = 0, 1, 2, 3, 4
REG_MULTI_SZ, REG_QWORD = 7, 11


class HiveHandle(Protocol):
    """The subset of python-hivex's ``Hivex`` methods we use (node and value handles are ints)."""

    def root(self) -> int: ...

    def node_get_child(self, node: int, name: str) -> int | None: ...

    def node_children(self, node: int) -> list[int]: ...

    def node_name(self, node: int) -> str: ...

    def node_values(self, node: int) -> list[int]: ...

    def value_key(self, value: int) -> str: ...

    def value_value(self, value: int) -> tuple[int, bytes]: ...

    def node_add_child(self, parent: int, name: str) -> int: ...

    def node_set_value(self, node: int, value: dict[str, Any]) -> None: ...

    def commit(self, filename: str | None) -> None: ...


@dataclass(frozen=True)
class RegValue:
    """A typed registry value as stored: its type number and raw bytes."""

    kind: int
    data: bytes

    @classmethod
    def sz(cls, text: str) -> RegValue:
        return cls(REG_SZ, (text + "\0").encode("utf-16-le"))

    @classmethod
    def expand_sz(cls, text: str) -> RegValue:
        return cls(REG_EXPAND_SZ, (text + "\0").encode("utf-16-le"))

    @classmethod
    def multi_sz(cls, items: Sequence[str]) -> RegValue:
        return cls(REG_MULTI_SZ, "".join(f"{i}\0" for i in items).encode("utf-16-le") + b"\0\0")

    @classmethod
    def dword(cls, number: int) -> RegValue:
        return cls(REG_DWORD, struct.pack("<I", number & 0xFFFFFFFF))

    @classmethod
    def qword(cls, number: int) -> RegValue:
        return cls(REG_QWORD, struct.pack("<Q", number))

    @classmethod
    def binary(cls, data: bytes) -> RegValue:
        return cls(REG_BINARY, data)

    def decode(self) -> str | int | list[str] | bytes:
        """The Python value: str for strings, int for DWORD/QWORD, a list for MULTI_SZ, else bytes."""
        if self.kind in (REG_SZ, REG_EXPAND_SZ):
            return _utf16(self.data).split("\0", 1)[0]
        if self.kind == REG_MULTI_SZ:
            return [item for item in _utf16(self.data).split("\0") if item]
        if self.kind == REG_DWORD and len(self.data) >= 4:
            return struct.unpack_from("<I", self.data)[0]
        if self.kind == REG_QWORD and len(self.data) >= 8:
            return struct.unpack_from("<Q", self.data)[0]
        return self.data


def _utf16(data: bytes) -> str:
    return data[: len(data) // 2 * 2].decode("utf-16-le", errors="replace")


KeyPath = Sequence[str] | str


def _split(path: KeyPath) -> list[str]:
    if isinstance(path, str):
        return [p for p in path.replace("/", "\\").split("\\") if p]
    return [p for p in path if p]


class Hive:
    """One open hive: look keys up by path, read values, set values and make keys."""

    def __init__(self, handle: HiveHandle) -> None:
        self.handle = handle

    def key(self, path: KeyPath, create: bool = False) -> int | None:
        """The node of ``path`` below the root (None when missing and not ``create``)."""
        node = self.handle.root()
        for name in _split(path):
            child = self.handle.node_get_child(node, name)
            if not child:
                if not create:
                    return None
                child = self.handle.node_add_child(node, name)
            node = child
        return node

    def exists(self, path: KeyPath) -> bool:
        return self.key(path) is not None

    def subkeys(self, path: KeyPath) -> list[str]:
        """Names of the subkeys of ``path`` ([] when it is missing)."""
        node = self.key(path)
        if node is None:
            return []
        return [self.handle.node_name(child) for child in self.handle.node_children(node)]

    def values(self, path: KeyPath) -> dict[str, RegValue]:
        """Every value of ``path`` by name ("" is the default value); {} when it is missing."""
        node = self.key(path)
        if node is None:
            return {}
        found: dict[str, RegValue] = {}
        for value in self.handle.node_values(node):
            kind, data = self.handle.value_value(value)
            found[self.handle.value_key(value)] = RegValue(kind, data)
        return found

    def get(self, path: KeyPath, name: str) -> str | int | list[str] | bytes | None:
        """The decoded value ``name`` of ``path`` (name matched case-insensitively), or None."""
        lower = name.lower()
        for key, value in self.values(path).items():
            if key.lower() == lower:
                return value.decode()
        return None

    def set(self, path: KeyPath, values: dict[str, RegValue]) -> None:
        """Set values on ``path``, creating the key and its parents; other values are kept."""
        node = self.key(path, create=True)
        assert node is not None
        for name, value in values.items():
            self.handle.node_set_value(node, {"key": name, "t": value.kind, "value": value.data})

    def apply(self, edits: Iterable[tuple[KeyPath, dict[str, RegValue]]]) -> None:
        """Apply a list of (key path, values) edits in order."""
        for path, values in edits:
            self.set(path, values)

    def commit(self) -> None:
        self.handle.commit(None)


def control_set(system: Hive) -> str:
    """The control set Windows boots with (``Select\\Current``), e.g. "ControlSet001".

    Raises:
        ValueError: the hive has no usable ``Select`` key.
    """
    current = system.get("Select", "Current")
    if not isinstance(current, int) or current < 1:
        raise ValueError("the SYSTEM hive has no Select\\Current value")
    name = f"ControlSet{current:03d}"
    if not system.exists(name):
        raise ValueError(f"the SYSTEM hive's current control set {name} does not exist")
    return name


def export_reg(hive: Hive, path: KeyPath = ()) -> str:
    """The hive below ``path`` as sorted ``.reg`` text (keys and values in name order)."""
    lines: list[str] = []

    def walk(parts: list[str]) -> None:
        lines.append("[\\" + "\\".join(parts) + "]")
        for name, value in sorted(hive.values(parts).items(), key=lambda item: item[0].lower()):
            label = "@" if name == "" else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{label}={_reg_data(value)}")
        lines.append("")
        for child in sorted(hive.subkeys(parts), key=str.lower):
            walk([*parts, child])

    walk(_split(path))
    return "\n".join(lines)


def _reg_data(value: RegValue) -> str:
    if value.kind == REG_SZ:
        text = value.decode()
        assert isinstance(text, str)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value.kind == REG_DWORD and len(value.data) == 4:
        return f"dword:{value.decode():08x}"
    return f"hex({value.kind:x}):" + ",".join(f"{b:02x}" for b in value.data)
