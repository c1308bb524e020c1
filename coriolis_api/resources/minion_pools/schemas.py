"""Minion pool fields the upstream clients send in transfer and deployment bodies (only "none" is accepted)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields

NO_POOLS = (
    "this service has no minion pools: worker pools on the service's own hosts do their part "
    "(leave it null or empty)"
)


class NoMinionPool(fields.Field):
    """A minion pool id: ``null`` (dropped before loading by ``OmitNulls``) is the only value accepted."""

    def _deserialize(self, value, attr, data, **kwargs):
        raise ValidationError(NO_POOLS)


class NoPoolMappings(fields.Field):
    """``instance_osmorphing_minion_pool_mappings``: ``null`` or ``{}`` only."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == {}:
            return {}
        raise ValidationError(NO_POOLS)


class MinionPoolListResponse(Schema):
    minion_pools = fields.List(fields.Dict())


class PoolOptionsArgs(Schema):
    env = fields.String(load_default=None)
    option_names = fields.String(load_default=None)
