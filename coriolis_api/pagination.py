"""Marker pagination as the seed describes it: sort_key/sort_dir (repeatable), marker, limit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask_smorest import abort
from marshmallow import Schema, fields, validate
from sqlalchemy import Boolean, DateTime, Integer, and_, func, literal, or_
from sqlalchemy.sql import Select

# what a NULL of a nullable sort column counts as (``updated_at`` of a record never updated...),
# so that ordering and marker comparisons never meet a NULL
_NULL_AS: list[tuple[type, Any]] = [(DateTime, datetime(1970, 1, 1)), (Boolean, False), (Integer, 0)]


def _sort_expression(model, key: str):
    column = getattr(model, key)
    if not model.__table__.c[key].nullable:
        return column, None
    for kind, value in _NULL_AS:
        if isinstance(column.type, kind):
            return func.coalesce(column, literal(value, column.type)), value
    return func.coalesce(column, literal("", column.type)), ""


class PageArgs(Schema):
    sort_key = fields.List(fields.String(), load_default=list)
    sort_dir = fields.List(fields.String(validate=validate.OneOf(["asc", "desc"])), load_default=list)
    marker = fields.String(load_default=None)
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1))


def _is_uuid(value: str) -> bool:
    """Markers are record ids; anything else names no record (and never reaches the database)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def paginate(session, query: Select, model, args: dict, allowed: tuple[str, ...], max_limit: int) -> Select:
    """Order ``query`` and keep the page after ``marker``.

    Sort keys default to ``created_at, id``; directions to ``desc``. ``id`` is always added last
    so that the order is total and walking the markers returns each record exactly once.
    """
    keys = list(args.get("sort_key") or ["created_at", "id"])
    dirs = list(args.get("sort_dir") or [])
    bad = [k for k in keys if k not in allowed]
    if bad:
        abort(400, message=f"invalid sort_key {bad[0]!r}; allowed: {', '.join(allowed)}")
    if len(set(keys)) != len(keys):
        abort(400, message="a sort_key is repeated")
    if len(dirs) > len(keys):
        abort(400, message="more sort_dir than sort_key values")
    dirs += [dirs[-1] if dirs else "desc"] * (len(keys) - len(dirs))
    if "id" not in keys:
        keys.append("id")
        dirs.append(dirs[-1])
    sorted_by = [_sort_expression(model, k) for k in keys]
    columns = [expression for expression, _null in sorted_by]
    query = query.order_by(*[c.asc() if d == "asc" else c.desc() for c, d in zip(columns, dirs, strict=True)])
    marker = args.get("marker")
    if marker:
        row = session.get(model, marker) if _is_uuid(marker) else None
        if row is None or getattr(row, "deleted", False):
            abort(400, message=f"marker {marker} not found")
        values = [getattr(row, k) for k in keys]
        values = [null if v is None else v for v, (_e, null) in zip(values, sorted_by, strict=True)]
        ors = []
        for i, (column, direction) in enumerate(zip(columns, dirs, strict=True)):
            equal = [columns[j] == values[j] for j in range(i)]
            after = column > values[i] if direction == "asc" else column < values[i]
            ors.append(and_(*equal, after))
        query = query.where(or_(*ors))
    limit = args.get("limit")
    if limit is not None and limit > max_limit:
        abort(400, message=f"limit must be at most {max_limit}")
    return query.limit(limit or max_limit)
