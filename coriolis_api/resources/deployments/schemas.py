"""Request and response schemas of deployments."""

from marshmallow import Schema, fields

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.migrations.schemas import ActionSchema, MigrationOut


class DeploymentCreateBody(Schema):
    transfer_id = fields.UUID(required=True)
    clone_disks = fields.Boolean(load_default=True)
    force = fields.Boolean(load_default=False)
    skip_os_morphing = fields.Boolean(load_default=None, allow_none=True)
    user_scripts = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
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


class DeploymentResponse(Schema):
    deployment = fields.Nested(DeploymentOut)


class DeploymentListResponse(Schema):
    deployments = fields.List(fields.Nested(DeploymentOut))


class ListArgs(PageArgs):
    pass


__all__ = ["ActionSchema"]
