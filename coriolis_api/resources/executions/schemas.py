"""Request and response schemas of transfer executions."""

from marshmallow import Schema, fields

from coriolis_api.resources.migrations.schemas import ActionSchema, MigrationOut
from coriolis_api.resources.migrations.schemas import ListArgs as RunListArgs
from coriolis_api.resources.nulls import OmitNulls
from coriolis_api.resources.plain_dump import PlainDump


class ExecutionCreateBody(OmitNulls):
    shutdown_instances = fields.Boolean(load_default=False)
    auto_deploy = fields.Boolean(load_default=False)


class ExecutionCreateSchema(Schema):
    execution = fields.Nested(ExecutionCreateBody, load_default=dict)


class ExecutionOut(MigrationOut):
    action_id = fields.String()
    number = fields.Integer()
    type = fields.String()


class ExecutionResponse(PlainDump):
    execution = fields.Nested(ExecutionOut)


class ExecutionListResponse(PlainDump):
    executions = fields.List(fields.Nested(ExecutionOut))


class ListArgs(RunListArgs):
    pass


__all__ = ["ActionSchema"]
