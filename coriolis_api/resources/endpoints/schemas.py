"""Request and response schemas of endpoints."""

from marshmallow import Schema, fields, validate

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.nulls import OmitNulls

NAME = validate.Length(min=1, max=255)


class EndpointCreateBody(OmitNulls):
    name = fields.String(required=True, validate=NAME)
    type = fields.String(required=True, validate=NAME)
    description = fields.String(load_default="", validate=validate.Length(max=4096))
    connection_info = fields.Dict(keys=fields.String(), load_default=dict)
    mapped_regions = fields.List(fields.String(), load_default=list)


class EndpointUpdateBody(OmitNulls):
    name = fields.String(validate=NAME)
    description = fields.String(validate=validate.Length(max=4096))
    connection_info = fields.Dict(keys=fields.String())
    mapped_regions = fields.List(fields.String())


class EndpointCreateSchema(Schema):
    endpoint = fields.Nested(EndpointCreateBody, required=True)


class EndpointUpdateSchema(Schema):
    endpoint = fields.Nested(EndpointUpdateBody, required=True)


class EndpointActionSchema(Schema):
    validate_connection = fields.Raw(data_key="validate-connection", required=True, allow_none=True)


class EndpointOut(Schema):
    id = fields.String()
    name = fields.String()
    type = fields.String()
    description = fields.String()
    connection_info = fields.Dict()
    mapped_regions = fields.List(fields.String())
    project_id = fields.String()
    user_id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)
    deleted = fields.Boolean()


class EndpointResponse(Schema):
    endpoint = fields.Nested(EndpointOut)


class EndpointListResponse(Schema):
    endpoints = fields.List(fields.Nested(EndpointOut))


ENV_DESCRIPTION = ("provider environment options: a JSON object, or it base64-encoded (as upstream clients send it); "
                   "options the provider does not use are ignored")


class InstanceArgs(Schema):
    marker = fields.String(load_default=None, validate=NAME)
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    name = fields.String(load_default=None, validate=NAME)
    env = fields.String(load_default=None, validate=validate.Length(min=1, max=65536),
                        metadata={"description": ENV_DESCRIPTION})


class InstanceShowArgs(Schema):
    env = fields.String(load_default=None, validate=validate.Length(min=1, max=65536),
                        metadata={"description": ENV_DESCRIPTION})


class InstanceListResponse(Schema):
    instances = fields.List(fields.Dict())


class InstanceResponse(Schema):
    instance = fields.Dict()


class InventoryArgs(Schema):
    env = fields.String(
        load_default=None, validate=validate.Length(min=1, max=65536),
        metadata={"description": "provider environment options: a JSON object, or it base64-encoded (as "
                                 "upstream clients send it)"},
    )


class NetworkListResponse(Schema):
    networks = fields.List(fields.Dict())


class StorageOut(Schema):
    storage_backends = fields.List(fields.Dict())
    config_default = fields.String(metadata={"description": "only when the provider has a default"})


class StorageResponse(Schema):
    storage = fields.Nested(StorageOut)


class OptionsArgs(Schema):
    env = fields.String(load_default=None, metadata={"description": "the options chosen so far (JSON or base64 "
                                                                   "JSON): the cloud lookup may depend on them"})
    options = fields.String(load_default=None, metadata={
        "description": "option names: comma-separated, a JSON list, or that list URL-safe base64-encoded "
                       "(python-coriolisclient)"})
    option_names = fields.String(load_default=None, metadata={"description": "same as options"})


class SourceOptionsResponse(Schema):
    source_options = fields.List(fields.Dict())


class DestinationOptionsResponse(Schema):
    destination_options = fields.List(fields.Dict())


class SourcePoolOptionsResponse(Schema):
    source_minion_pool_options = fields.List(fields.Dict())


class DestinationPoolOptionsResponse(Schema):
    destination_minion_pool_options = fields.List(fields.Dict())


class ValidationResponse(Schema):
    validate_connection = fields.Dict(data_key="validate-connection")


__all__ = ["PageArgs"]
