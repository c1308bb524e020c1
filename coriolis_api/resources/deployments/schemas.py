"""Request and response schemas of deployments."""

from marshmallow import Schema, fields

from coriolis_api.resources.migrations.schemas import ActionSchema, MigrationOut
from coriolis_api.resources.migrations.schemas import ListArgs as RunListArgs
from coriolis_api.resources.minion_pools.schemas import NoPoolMappings
from coriolis_api.resources.nulls import OmitNulls
from coriolis_api.resources.plain_dump import PlainDump
from coriolis_api.resources.user_scripts import UserScripts


class DeploymentCreateBody(OmitNulls):
    transfer_id = fields.UUID(required=True)
    clone_disks = fields.Boolean(load_default=True)
    force = fields.Boolean(load_default=False)
    skip_os_morphing = fields.Boolean(load_default=None, allow_none=True)
    user_scripts = UserScripts(load_default=None, metadata={"description": "null or omitted: the transfer's"})
    instance_osmorphing_minion_pool_mappings = NoPoolMappings()
    test_deployment = fields.Boolean(
        load_default=False, metadata={"description": "deleting it removes the instance it created"}
    )


class DeploymentCreateSchema(Schema):
    deployment = fields.Nested(DeploymentCreateBody, required=True)


class DeploymentOut(MigrationOut):
    type = fields.String()
    transfer_id = fields.String()
    transfer_scenario_type = fields.String()
    number = fields.Integer()
    clone_disks = fields.Boolean()
    test_deployment = fields.Boolean()


class DeploymentResponse(PlainDump):
    deployment = fields.Nested(DeploymentOut)


class DeploymentListResponse(PlainDump):
    deployments = fields.List(fields.Nested(DeploymentOut))


class ListArgs(RunListArgs):
    pass


__all__ = ["ActionSchema"]
