"""Request and response schemas of transfer schedules (cron fields; an omitted one is a wildcard)."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from coriolis_api.pagination import PageArgs
from coriolis_tasks.schedules import FIELDS, CronError, parse_field


class CronSchema(Schema):
    minute = fields.String(load_default=None, allow_none=True)
    hour = fields.String(load_default=None, allow_none=True)
    dom = fields.String(load_default=None, allow_none=True)
    month = fields.String(load_default=None, allow_none=True)
    dow = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def parses(self, data, **_kwargs):
        for name in FIELDS:
            try:
                parse_field(name, data.get(name))
            except CronError as exc:
                raise ValidationError(str(exc), name) from None


class ScheduleBody(Schema):
    schedule = fields.Nested(CronSchema, required=True)
    enabled = fields.Boolean(load_default=True)
    expiration_date = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    shutdown_instance = fields.Boolean(load_default=False)
    auto_deploy = fields.Boolean(load_default=False)


class ScheduleUpdateBody(Schema):
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
    pass
