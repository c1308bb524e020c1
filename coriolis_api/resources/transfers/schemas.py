"""Request and response schemas of transfers (upstream Coriolis field names)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.migrations.schemas import ActionFieldsSchema, StorageMappingsSchema, network_map_field


class TransferCreateBody(ActionFieldsSchema):
    scenario = fields.String(load_default="replica", validate=validate.OneOf(["replica", "live_migration"]))
    origin_endpoint_id = fields.UUID(required=True)
    destination_endpoint_id = fields.UUID(required=True)
    clone_disks = fields.Boolean(load_default=True)

    @validates_schema
    def distinct_endpoints(self, data, **_kwargs):
        if data["origin_endpoint_id"] == data["destination_endpoint_id"]:
            raise ValidationError("origin and destination endpoints must differ", "destination_endpoint_id")


class TransferUpdateBody(Schema):
    source_environment = fields.Dict(keys=fields.String())
    destination_environment = fields.Dict(keys=fields.String())
    network_map = network_map_field()
    storage_mappings = fields.Nested(StorageMappingsSchema)
    user_scripts = fields.Dict(keys=fields.String())
    notes = fields.String(validate=validate.Length(max=4096))
    clone_disks = fields.Boolean()
    skip_os_morphing = fields.Boolean()


class TransferCreateSchema(Schema):
    transfer = fields.Nested(TransferCreateBody, required=True)


class TransferUpdateSchema(Schema):
    transfer = fields.Nested(TransferUpdateBody, required=True)


class TransferActionSchema(Schema):
    delete_disks = fields.Raw(data_key="delete-disks", required=True, allow_none=True)


class ExecutionSummary(Schema):
    id = fields.String()
    number = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()


class TransferOut(Schema):
    id = fields.String()
    type = fields.Constant("transfer")
    scenario = fields.String()
    project_id = fields.String()
    user_id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)
    deleted = fields.Boolean()
    origin_endpoint_id = fields.String()
    destination_endpoint_id = fields.String()
    instances = fields.List(fields.String())
    source_environment = fields.Dict()
    destination_environment = fields.Dict()
    network_map = fields.Dict()
    storage_mappings = fields.Dict()
    user_scripts = fields.Dict()
    notes = fields.String()
    clone_disks = fields.Boolean()
    skip_os_morphing = fields.Boolean()
    info = fields.Dict()
    last_execution_status = fields.String(allow_none=True)
    executions = fields.List(fields.Nested(ExecutionSummary))
    replica_disks = fields.List(fields.Dict())


class TransferResponse(Schema):
    transfer = fields.Nested(TransferOut)


class TransferListResponse(Schema):
    transfers = fields.List(fields.Nested(TransferOut))


class ListArgs(PageArgs):
    pass
