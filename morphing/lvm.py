"""LVM2 without device-mapper: read a PV's text metadata and find where each linear LV lies."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

SECTOR = 512
_LABEL_ID = b"LABELONE"
_LABEL_TYPE = b"LVM2 001"
_MDA_MAGIC = b" LVM2 x[5A%r0N*>"
_TOKEN = re.compile(
    r'\s*(?:(?P<comment>#[^\n]*)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?[0-9]+(?:\.[0-9]+)?)'
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_.+-]*)|(?P<punct>[={}\[\],]))"
)


class LvmError(ValueError):
    """The metadata is not LVM2 text metadata this module understands."""


@dataclass(frozen=True)
class PhysicalVolume:
    """A PV header: its UUID (dashed, as in the metadata) and the current metadata text."""

    uuid: str
    metadata: str


@dataclass(frozen=True)
class LinearVolume:
    """A single-segment linear LV: its bytes lie contiguously on one PV."""

    vg: str
    name: str
    pv_uuid: str
    offset: int
    size: int


def parse_metadata(text: str) -> dict[str, Any]:
    """Parse LVM2 text metadata (``name = value``, ``name { ... }``) into nested dicts."""
    tokens = _tokenize(text)
    pos, result = _parse_section(tokens, 0)
    if pos != len(tokens):
        raise LvmError(f"unexpected {tokens[pos][1]!r} in LVM metadata")
    return result


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise LvmError(f"cannot read LVM metadata at {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind or "")
        if kind == "comment":
            continue
        if kind == "str":
            tokens.append(("value", re.sub(r"\\(.)", r"\1", value[1:-1])))
        elif kind == "num":
            tokens.append(("value", float(value) if "." in value else int(value)))
        else:
            tokens.append((kind or "", value))
    return tokens


def _parse_section(tokens: list[tuple[str, Any]], pos: int) -> tuple[int, dict[str, Any]]:
    section: dict[str, Any] = {}
    while pos < len(tokens) and tokens[pos] != ("punct", "}"):
        kind, name = tokens[pos]
        if kind != "ident" or pos + 1 >= len(tokens):
            raise LvmError(f"expected a name in LVM metadata, got {name!r}")
        follow = tokens[pos + 1]
        if follow == ("punct", "{"):
            pos, section[name] = _parse_section(tokens, pos + 2)
            if pos >= len(tokens):
                raise LvmError("unclosed section in LVM metadata")
            pos += 1
        elif follow == ("punct", "="):
            pos, section[name] = _parse_value(tokens, pos + 2)
        else:
            raise LvmError(f"expected '=' or '{{' after {name!r} in LVM metadata")
    return pos, section


def _parse_value(tokens: list[tuple[str, Any]], pos: int) -> tuple[int, Any]:
    if pos >= len(tokens):
        raise LvmError("missing value in LVM metadata")
    kind, value = tokens[pos]
    if kind == "value":
        return pos + 1, value
    if (kind, value) != ("punct", "["):
        raise LvmError(f"unexpected {value!r} in LVM metadata")
    items: list[Any] = []
    pos += 1
    while pos < len(tokens) and tokens[pos] != ("punct", "]"):
        if tokens[pos] == ("punct", ","):
            pos += 1
            continue
        if tokens[pos][0] != "value":
            raise LvmError(f"unexpected {tokens[pos][1]!r} in an LVM metadata list")
        items.append(tokens[pos][1])
        pos += 1
    return pos + 1, items


def linear_volumes(metadata: dict[str, Any]) -> tuple[list[LinearVolume], list[str]]:
    """The LVs that can be mounted by byte offset, and the names of those that cannot (and why).

    Args:
        metadata: parsed metadata (``parse_metadata``): one top-level section per VG.
    """
    found: list[LinearVolume] = []
    skipped: list[str] = []
    for vg_name, vg in metadata.items():
        if not isinstance(vg, dict) or "extent_size" not in vg:
            continue
        extent = int(vg["extent_size"]) * SECTOR
        pvs = vg.get("physical_volumes", {})
        for lv_name, lv in vg.get("logical_volumes", {}).items():
            segments = [v for k, v in lv.items() if k.startswith("segment") and isinstance(v, dict)]
            seg = segments[0] if len(segments) == 1 else {}
            stripes = seg.get("stripes", [])
            if seg.get("type") != "striped" or seg.get("stripe_count", 1) != 1 or len(stripes) != 2:
                skipped.append(f"{vg_name}/{lv_name} (not a single linear segment)")
                continue
            pv = pvs.get(stripes[0], {})
            if "id" not in pv:
                skipped.append(f"{vg_name}/{lv_name} (unknown PV {stripes[0]})")
                continue
            offset = int(pv.get("pe_start", 0)) * SECTOR + int(stripes[1]) * extent
            found.append(LinearVolume(vg_name, lv_name, pv["id"], offset, int(seg["extent_count"]) * extent))
    return found, skipped


def read_physical_volume(f: BinaryIO, base: int = 0) -> PhysicalVolume:
    """Read the PV label and its current metadata text from a file at byte ``base``.

    Args:
        f: the disk image, opened for binary reading.
        base: where the PV starts (a partition's byte offset).
    """
    for sector in range(4):
        f.seek(base + sector * SECTOR)
        label = f.read(SECTOR)
        if label[:8] == _LABEL_ID and label[24:32] == _LABEL_TYPE:
            break
    else:
        raise LvmError("no LVM2 label in the first four sectors")
    (header_offset,) = struct.unpack_from("<I", label, 20)
    header = label[header_offset:]
    raw_uuid = header[:32].decode("ascii")
    uuid = "-".join(raw_uuid[a:b] for a, b in ((0, 6), (6, 10), (10, 14), (14, 18), (18, 22), (22, 26), (26, 32)))
    pos = 40
    lists: list[list[tuple[int, int]]] = [[], []]
    for areas in lists:
        while pos + 16 <= len(header):
            offset, size = struct.unpack_from("<QQ", header, pos)
            pos += 16
            if offset == 0:
                break
            areas.append((offset, size))
    for mda_offset, mda_size in lists[1]:
        text = _read_mda_text(f, base + mda_offset, mda_size)
        if text is not None:
            return PhysicalVolume(uuid, text)
    raise LvmError(f"PV {uuid} has no readable metadata area")


def _read_mda_text(f: BinaryIO, start: int, size: int) -> str | None:
    f.seek(start)
    header = f.read(SECTOR)
    if header[4:20] != _MDA_MAGIC:
        return None
    offset, length = struct.unpack_from("<QQ", header, 40)
    if length == 0:
        return None
    first = min(length, size - offset)
    f.seek(start + offset)
    data = f.read(first)
    if first < length:
        # The metadata ring buffer wrapped: the rest follows the header sector.
        f.seek(start + SECTOR)
        data += f.read(length - first)
    return data.rstrip(b"\0").decode("utf-8", errors="replace")
