"""Request and response schemas of regions."""

from marshmallow import Schema, fields, validate

from coriolis_api.pagination import PageArgs
from coriolis_api.resources.nulls import OmitNulls

NAME = validate.Length(min=1, max=255)


class RegionCreateBody(OmitNulls):
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default="", validate=validate.Length(max=4096))
    enabled = fields.Boolean(load_default=True)


class RegionUpdateBody(OmitNulls):
    name = fields.String(validate=NAME)
    description = fields.String(validate=validate.Length(max=4096))
    enabled = fields.Boolean()


class RegionCreateSchema(Schema):
    region = fields.Nested(RegionCreateBody, required=True)


class RegionUpdateSchema(Schema):
    region = fields.Nested(RegionUpdateBody, required=True)


class RegionOut(Schema):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    enabled = fields.Boolean()
    mapped_endpoints = fields.List(fields.String(), metadata={"description": "the caller's endpoints mapped to it"})
    mapped_services = fields.List(fields.String(), metadata={"description": "always empty: workers serve all"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class RegionResponse(Schema):
    region = fields.Nested(RegionOut)


class RegionListResponse(Schema):
    regions = fields.List(fields.Nested(RegionOut))


class ListArgs(PageArgs):
    pass
