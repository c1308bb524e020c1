"""Request and response schemas of transfer schedules (cron fields; an omitted one is a wildcard)."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.nulls import OmitNulls
from coriolis_tasks.schedules import FIELDS, CronError, parse_field


class CronField(fields.Field):
    """A cron field: an integer (as upstream clients send it) or cron text (``*/5``, ``1-5``, ``1,3``).

    Stored as text; ``bool`` is refused (JSON ``true`` is not a minute).
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and len(value) <= 64:
            return value
        raise ValidationError("an integer or a cron field (text)")


class DayOfWeekField(CronField):
    """``dow``: a JSON integer is upstream's day number (Python's ``weekday()``: 0 Monday ... 6 Sunday, what
    coriolis-web's "Monday" sends); cron text keeps cron's numbering (0 or 7 Sunday, 1 Monday ... 6 Saturday).

    Stored as cron text, so the integer is moved to cron's numbering here.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= 6:
                raise ValidationError("an integer from 0 (Monday) to 6 (Sunday), or a cron field (text)")
            return str((value + 1) % 7)
        return super()._deserialize(value, attr, data, **kwargs)


def shown_cron(name: str, text: str) -> int | str:
    """A stored cron field as responses show it: a plain number as an integer (upstream's type); a day of the
    week as upstream numbers it (0 Monday ... 6 Sunday)."""
    if not text.isdigit():
        return text
    return (int(text) + 6) % 7 if name == "dow" else int(text)


class CronSchema(Schema):
    minute = CronField(load_default=None, allow_none=True)
    hour = CronField(load_default=None, allow_none=True)
    dom = CronField(load_default=None, allow_none=True)
    month = CronField(load_default=None, allow_none=True)
    dow = DayOfWeekField(load_default=None, allow_none=True)

    @validates_schema
    def parses(self, data, **_kwargs):
        for name in FIELDS:
            try:
                parse_field(name, data.get(name))
            except CronError as exc:
                raise ValidationError(str(exc), name) from None


class ScheduleBody(OmitNulls):
    KEEP_NULL = frozenset({"expiration_date"})

    schedule = fields.Nested(CronSchema, required=True)
    enabled = fields.Boolean(load_default=True)
    expiration_date = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    shutdown_instance = fields.Boolean(load_default=False)
    auto_deploy = fields.Boolean(load_default=False)


class ScheduleUpdateBody(OmitNulls):
    KEEP_NULL = frozenset({"expiration_date"})

    schedule = fields.Nested(CronSchema)
    enabled = fields.Boolean()
    expiration_date = fields.AwareDateTime(allow_none=True, default_timezone=None)
    shutdown_instance = fields.Boolean()
    auto_deploy = fields.Boolean()


class ScheduleOut(Schema):
    id = fields.String()
    transfer_id = fields.String()
    schedule = fields.Dict()
    enabled = fields.Boolean()
    expiration_date = fields.DateTime(allow_none=True)
    shutdown_instance = fields.Boolean()
    auto_deploy = fields.Boolean()
    last_fired_for = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    deleted = fields.Boolean()


class ScheduleResponse(Schema):
    schedule = fields.Nested(ScheduleOut)


class ScheduleListResponse(Schema):
    schedules = fields.List(fields.Nested(ScheduleOut))


class ListArgs(PageArgs):
    show_expired = fields.Boolean(load_default=True, metadata={"description": "false: leave expired schedules out"})
