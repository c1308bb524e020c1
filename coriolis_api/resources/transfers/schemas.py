"""Request and response schemas of transfers (upstream Coriolis field names)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.executions.schemas import ExecutionOut
from coriolis_api.resources.migrations.schemas import (
    STATUSES,
    ActionFieldsSchema,
    StorageMappingsSchema,
    UpstreamKeysOut,
    network_map_field,
)
from coriolis_api.resources.minion_pools.schemas import NoMinionPool, NoPoolMappings
from coriolis_api.resources.nulls import OmitNulls
from coriolis_api.resources.user_scripts import UserScripts


class TransferCreateBody(ActionFieldsSchema):
    scenario = fields.String(load_default="replica", validate=validate.OneOf(["replica", "live_migration"]))
    origin_endpoint_id = fields.UUID(required=True)
    destination_endpoint_id = fields.UUID(required=True)
    clone_disks = fields.Boolean(load_default=True)
    origin_minion_pool_id = NoMinionPool()
    destination_minion_pool_id = NoMinionPool()
    instance_osmorphing_minion_pool_mappings = NoPoolMappings()

    @validates_schema
    def distinct_endpoints(self, data, **_kwargs):
        if data["origin_endpoint_id"] == data["destination_endpoint_id"]:
            raise ValidationError("origin and destination endpoints must differ", "destination_endpoint_id")


class TransferUpdateBody(OmitNulls):
    """What a ``PUT`` may change; environments and maps are merged over the stored ones, as upstream does."""

    scenario = fields.String(metadata={"description": "may only repeat the transfer's scenario"})
    source_environment = fields.Dict(keys=fields.String())
    destination_environment = fields.Dict(keys=fields.String())
    network_map = network_map_field()
    storage_mappings = fields.Nested(StorageMappingsSchema)
    user_scripts = UserScripts()
    notes = fields.String(validate=validate.Length(max=4096))
    clone_disks = fields.Boolean()
    skip_os_morphing = fields.Boolean()
    origin_minion_pool_id = NoMinionPool()
    destination_minion_pool_id = NoMinionPool()
    instance_osmorphing_minion_pool_mappings = NoPoolMappings()


class TransferCreateSchema(Schema):
    transfer = fields.Nested(TransferCreateBody, required=True)


class TransferUpdateSchema(Schema):
    transfer = fields.Nested(TransferUpdateBody, required=True)


class TransferActionSchema(Schema):
    delete_disks = fields.Raw(data_key="delete-disks", required=True, allow_none=True)


class ExecutionSummary(Schema):
    id = fields.String()
    action_id = fields.String()
    number = fields.Integer()
    type = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class TransferOut(UpstreamKeysOut):
    id = fields.String()
    type = fields.Constant("transfer")
    scenario = fields.String()
    scenario_type = fields.String(metadata={"description": "the scenario (the name upstream's CLI reads)"})
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
    transfer_result = fields.Dict(allow_none=True)


class TransferResponse(Schema):
    transfer = fields.Nested(TransferOut)


class TransferUpdateResponse(Schema):
    transfer = fields.Nested(TransferOut)
    execution = fields.Nested(ExecutionOut)


class TransferListResponse(Schema):
    transfers = fields.List(fields.Nested(TransferOut))


class ListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES),
                           metadata={"description": "only transfers whose last execution has this status"})
