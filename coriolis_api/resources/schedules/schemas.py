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


def shown_cron(text: str) -> int | str:
    """A stored cron field as responses show it: a plain number as an integer (upstream's type)."""
    return int(text) if text.isdigit() else text


class CronSchema(Schema):
    minute = CronField(load_default=None, allow_none=True)
    hour = CronField(load_default=None, allow_none=True)
    dom = CronField(load_default=None, allow_none=True)
    month = CronField(load_default=None, allow_none=True)
    dow = CronField(load_default=None, allow_none=True)

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
