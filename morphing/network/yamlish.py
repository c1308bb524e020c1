"""A reader for the YAML that netplan files use (block and flow maps and lists, plain scalars)."""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"\s#][^#]*?)\s*:(?:\s+|$)""")


class YamlError(ValueError):
    """Text this reader does not understand (anchors, multi-line strings, tags...)."""


def loads(text: str) -> Any:
    """Parse a YAML document of the netplan kind."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        content = _strip_comment(raw).rstrip()
        if content.strip() and content.strip() not in ("---", "..."):
            lines.append((len(content) - len(content.lstrip(" ")), content.strip()))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise YamlError(f"unexpected indentation at {lines[pos][1]!r}")
    return value


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _block(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[Any, int]:
    if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
        return _sequence(lines, pos, indent)
    return _mapping(lines, pos, indent)


def _sequence(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1].startswith("- ") or lines[pos][1] == "-"):
        rest = lines[pos][1][1:].lstrip()
        if not rest:
            if pos + 1 < len(lines) and lines[pos + 1][0] > indent:
                value, pos = _block(lines, pos + 1, lines[pos + 1][0])
            else:
                value, pos = None, pos + 1
        elif _KEY.match(rest) and not rest.startswith(("[", "{")):
            column = indent + len(lines[pos][1]) - len(rest)
            lines[pos] = (column, rest)
            value, pos = _mapping(lines, pos, column)
        else:
            value, pos = _scalar_or_flow(rest), pos + 1
        items.append(value)
    return items, pos


def _mapping(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
        content = lines[pos][1]
        match = _KEY.match(content)
        if not match:
            raise YamlError(f"expected 'key: value', got {content!r}")
        key = str(_scalar(match.group(1)))
        rest = content[match.end() :].strip()
        pos += 1
        if rest:
            result[key] = _scalar_or_flow(rest)
        elif pos < len(lines) and (
            lines[pos][0] > indent or (lines[pos][0] == indent and lines[pos][1].startswith("- "))
        ):
            result[key], pos = _block(lines, pos, lines[pos][0])
        else:
            result[key] = None
    return result, pos


def _scalar_or_flow(text: str) -> Any:
    if text.startswith(("[", "{")):
        value, end = _flow(text, 0)
        if text[end:].strip():
            raise YamlError(f"trailing text after {text[:end]!r}")
        return value
    if text.startswith(("|", ">", "&", "*", "!")):
        raise YamlError(f"unsupported YAML: {text!r}")
    return _scalar(text)


def _flow(text: str, pos: int) -> tuple[Any, int]:
    opener = text[pos]
    closer = "]" if opener == "[" else "}"
    items: list[Any] = []
    mapping: dict[str, Any] = {}
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " ,":
            pos += 1
        if pos >= len(text):
            raise YamlError(f"unclosed {opener} in {text!r}")
        if text[pos] == closer:
            return (items if opener == "[" else mapping), pos + 1
        if text[pos] in "[{":
            value, pos = _flow(text, pos)
        else:
            end = pos
            if text[pos] in "\"'":
                end = text.index(text[pos], pos + 1) + 1
            while (
                end < len(text)
                and text[end] not in ",]}"
                and not (opener == "{" and text[end] == ":" and (end + 1 == len(text) or text[end + 1] in " ,}"))
            ):
                end += 1
            value, pos = _scalar(text[pos:end].strip()), end
        if opener == "{":
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos < len(text) and text[pos] == ":":
                sub = text[pos + 1 :].lstrip()
                start = len(text) - len(sub)
                if sub[:1] in ("[", "{"):
                    mapping[str(value)], pos = _flow(text, start)
                else:
                    end = start
                    while end < len(text) and text[end] not in ",}":
                        end += 1
                    mapping[str(value)], pos = _scalar(text[start:end].strip()), end
            else:
                mapping[str(value)] = None
        else:
            items.append(value)


def _scalar(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return bytes(text[1:-1], "utf-8").decode("unicode_escape")
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    lower = text.lower()
    if lower in ("true", "yes", "on"):
        return True
    if lower in ("false", "no", "off"):
        return False
    if lower in ("null", "~", ""):
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text
