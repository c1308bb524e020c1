"""Response schemas dumped by a plan built once per schema class, with marshmallow's own output.

A poll of a page of runs dumps thousands of values; marshmallow asks each field, for each value, how
to find and format it (half of a list request's CPU). ``PlainDump`` reads the schema once and turns
each field into one small function, for the field kinds the responses use (strings, numbers,
booleans, ISO dates, plain dicts, lists and nested schemas of these, constants); any other field, and
any object that is not a dict, goes through marshmallow itself, so the output is marshmallow's.
The schemas stay what the OpenAPI document is built from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields
from marshmallow.utils import missing

_Dump = Callable[[Any], Any]  # a present, dumped value -> its JSON-ready form


def _text(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is str:
        return value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _integer(value: Any) -> Any:
    return None if value is None else int(value)


def _dict(value: Any) -> Any:
    return None if value is None else dict(value)


def _value_dump(field: fields.Field) -> _Dump | None:
    """A function dumping a value as ``field._serialize`` does, or None when the field is not a plain kind."""
    kind = type(field)
    if kind in (fields.String, fields.Str):
        return _text
    if kind in (fields.Integer, fields.Int) and not field.as_string:
        return _integer
    if kind in (fields.Boolean, fields.Bool):
        return lambda value: None if value is None else field._serialize(value, None, None)
    if kind in (fields.DateTime, fields.Date) and field.format in ("iso", "iso8601"):
        iso = field.SERIALIZATION_FUNCS[field.format]
        return lambda value: None if value is None else iso(value)
    if kind is fields.Dict and field.key_field is None and field.value_field is None and field.mapping_type is dict:
        return _dict
    if kind is fields.Raw:
        return lambda value: value
    if getattr(field, "dumped_as_is", False):  # a list the service built JSON-ready (migrations.schemas.Presented)
        return lambda value: value
    if kind is fields.List:
        inner = _value_dump(field.inner)
        if inner is None:
            return None
        return lambda value: None if value is None else [inner(item) for item in value]
    if kind is fields.Nested and isinstance(field.schema, PlainDump) and not field.many and not field.schema.many:
        schema = field.schema
        return lambda value: None if value is None else schema.dump(value)
    return None


_Step = tuple[str, str, str, _Dump | None, fields.Field]


def _plan(schema: Schema) -> list[_Step]:
    """(output key, field name, input key, value dump or None for marshmallow's, field) of each dumped field."""
    plan = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        source = field.attribute if field.attribute is not None else name
        plain = None if "." in source or not field._CHECK_ATTRIBUTE else _value_dump(field)
        plan.append((key, name, source, plain, field))
    return plan


class PlainDump(Schema):
    """A response schema whose ``dump`` of dicts runs a plan of plain functions (same output as marshmallow's)."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        many = self.many if many is None else bool(many)
        plan = self.__dict__.get("_plain_plan")
        if plan is None:
            if self._hooks["pre_dump"] or self._hooks["post_dump"]:
                plan = False
            else:
                plan = _plan(self)
            self.__dict__["_plain_plan"] = plan
        if plan is False:
            return super().dump(obj, many=many)
        if many and obj is not None:
            return [self._dump_one(item, plan) for item in obj]
        if many:
            return super().dump(obj, many=many)
        return self._dump_one(obj, plan)

    def _dump_one(self, obj: Any, plan: list[_Step]) -> Any:
        if type(obj) is not dict:
            return super().dump(obj, many=False)
        out = {}
        for key, name, source, plain, field in plan:
            if plain is None:
                value = field.serialize(name, obj, accessor=self.get_attribute)
            else:
                value = obj.get(source, missing)
                if value is missing:  # marshmallow then looks for an attribute of that name
                    value = getattr(obj, source, missing)
                if value is missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
                value = plain(value)
            if value is missing:
                continue
            out[key] = value
        return out

