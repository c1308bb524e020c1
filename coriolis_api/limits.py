"""Checks on what a request carries before any view sees it: body size and the shape of JSON bodies.

Every JSON body is parsed once here, strictly, before webargs parses it again for the views:

* larger than ``max_request_bytes`` (with or without a Content-Length: chunked bodies are read
  through a limited stream) → 413;
* not UTF-8, nested deeper than ``MAX_DEPTH``, an object with a repeated key, ``NaN`` or
  ``Infinity`` (or a number too large to be one), an integer of more than ``MAX_INT_DIGITS``
  digits, a string with a NUL character or a lone surrogate → 400 naming the problem.

Unknown query parameters are ignored, as OpenStack APIs do (clients send ``all_tenants`` and the
like); unknown body fields are refused by the schemas.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from flask import current_app, request
from flask_smorest import abort

MAX_DEPTH = 64
MAX_INT_DIGITS = 100
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The body is not JSON this API accepts; the message says why."""


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped), without recursion."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub('""', text))
    if not brackets:
        return 0
    steps = (1 if c in "[{" else -1 for c in brackets)
    return max(itertools.accumulate(steps))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadJson(f"key {key!r} appears twice in an object")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadJson(f"integer of {len(text)} digits is out of range")
    return int(text)


def _check_strings(document: Any) -> None:
    """Refuse NUL characters and lone surrogates in any key or string value (iteratively)."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise BadJson("a string contains a NUL character")
            if _SURROGATE.search(item):
                raise BadJson("a string contains a lone UTF-16 surrogate")


def parse_strict(body: bytes) -> Any:
    """Parse a JSON body the way this API accepts it; raises ``BadJson`` naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"the body is not valid UTF-8 (byte {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise BadJson(f"the body is nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_constant, parse_float=_float, parse_int=_int
        )
    except json.JSONDecodeError as exc:
        raise BadJson(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadJson(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    _check_strings(document)
    return document


def check_request_body() -> None:
    """``before_request`` hook: read the body within the size limit and refuse hostile JSON."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = request.get_data(cache=True)  # 413 when a Content-Length says more than the limit
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is None and len(body) >= limit:
        # a chunked body is read through a stream that stops at the limit: reaching it means more was sent
        abort(413, message="request body too large")
    if body and request.is_json:
        try:
            parse_strict(body)
        except BadJson as exc:
            abort(400, message=f"invalid request: {exc}")
