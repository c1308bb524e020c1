"""Request and response schemas of migrations (upstream Coriolis field names)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from coriolis.statuses import MigrationStatus
from coriolis_api.pagination import PageArgs
from coriolis_api.resources.nulls import OmitNulls
from coriolis_api.resources.plain_dump import PlainDump
from coriolis_api.resources.user_scripts import UserScripts

NAME = validate.Length(min=1, max=255)


class NetworkMapValue(fields.Field):
    """A network_map value: a destination network name or id, or an object the destination's schema checks
    (e.g. ``{"create": true, "cidr": ...}``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str | dict):
            return value
        raise ValidationError("a network name or id, or an object")


def network_map_field(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=NetworkMapValue(), **kwargs)


class OriginSchema(OmitNulls):
    type = fields.String(required=True, validate=NAME)
    connection_info = fields.Dict(keys=fields.String(), load_default=dict)
    source_environment = fields.Dict(keys=fields.String(), load_default=None)


class DestinationSchema(OmitNulls):
    type = fields.String(required=True, validate=NAME)
    connection_info = fields.Dict(keys=fields.String(), load_default=dict)
    target_environment = fields.Dict(keys=fields.String(), load_default=dict)
    network_map = network_map_field(load_default=None)


class StorageMappingsSchema(OmitNulls):
    default = fields.String(load_default=None, allow_none=True)
    backend_mappings = fields.List(fields.Dict(keys=fields.String(), values=fields.String()), load_default=list)
    disk_mappings = fields.List(fields.Dict(keys=fields.String(), values=fields.String()), load_default=list)


class ActionFieldsSchema(OmitNulls):
    """What migrations and transfers both carry: instances, environments, maps, scripts, notes."""

    instances = fields.List(fields.String(validate=NAME), required=True, validate=validate.Length(min=1, max=500))
    source_environment = fields.Dict(keys=fields.String(), load_default=dict)
    destination_environment = fields.Dict(keys=fields.String(), load_default=dict)
    network_map = network_map_field(load_default=dict)
    storage_mappings = fields.Nested(StorageMappingsSchema, load_default=dict)
    user_scripts = UserScripts(load_default=dict)
    notes = fields.String(load_default="", validate=validate.Length(max=4096))
    skip_os_morphing = fields.Boolean(load_default=False)

    @validates_schema
    def distinct_instances(self, data, **_kwargs):
        if len(set(data.get("instances") or [])) != len(data.get("instances") or []):
            raise ValidationError("an instance is listed twice", "instances")


class MigrationCreateBody(ActionFieldsSchema):
    origin = fields.Nested(OriginSchema, load_default=None)
    destination = fields.Nested(DestinationSchema, load_default=None)
    origin_endpoint_id = fields.UUID(load_default=None)
    destination_endpoint_id = fields.UUID(load_default=None)
    shutdown_instances = fields.Boolean(load_default=False)

    @validates_schema
    def one_of_each(self, data, **_kwargs):
        if (data.get("origin") is None) == (data.get("origin_endpoint_id") is None):
            raise ValidationError("give exactly one of origin or origin_endpoint_id", "origin")
        if (data.get("destination") is None) == (data.get("destination_endpoint_id") is None):
            raise ValidationError("give exactly one of destination or destination_endpoint_id", "destination")


class MigrationCreateSchema(Schema):
    migration = fields.Nested(MigrationCreateBody, required=True)


class CancelSchema(Schema):
    force = fields.Boolean(load_default=False)


class ActionSchema(Schema):
    cancel = fields.Nested(CancelSchema, required=True, allow_none=True)


STATUSES = [str(s) for s in MigrationStatus]


class ListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES),
                           metadata={"description": "only runs with this status"})


class ProgressUpdateOut(PlainDump):
    id = fields.String()
    task_id = fields.String()
    index = fields.Integer()
    current_step = fields.Integer()
    total_steps = fields.Integer(allow_none=True)
    message = fields.String()
    created_at = fields.DateTime()


class EventOut(PlainDump):
    id = fields.String()
    task_id = fields.String()
    index = fields.Integer()
    level = fields.String()
    message = fields.String()
    created_at = fields.DateTime()


class Presented(fields.List):
    """A list the service already built as JSON-ready dicts (a run's progress updates and events, hundreds
    per poll): dumped as it is; the inner schema documents its items."""

    dumped_as_is = True  # for plain_dump

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class TaskOut(PlainDump):
    id = fields.String()
    index = fields.Integer()
    execution_id = fields.String(attribute="migration_id")
    instance = fields.String()
    task_type = fields.String()
    status = fields.String()
    host = fields.String(allow_none=True)
    process_id = fields.Integer(allow_none=True)
    depends_on = fields.List(fields.String())
    on_error = fields.Boolean()
    disk_id = fields.String(allow_none=True)
    exception_details = fields.String(allow_none=True)
    progress = fields.Dict(allow_none=True)
    progress_updates = Presented(fields.Nested(ProgressUpdateOut))
    events = Presented(fields.Nested(EventOut))
    result = fields.Dict()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class UpstreamKeysOut(PlainDump):
    """Keys upstream clients read from transfers and runs although this service has no use for them."""

    reservation_id = fields.String(allow_none=True, metadata={"description": "always null (no licensing)"})
    origin_minion_pool_id = fields.String(allow_none=True, metadata={"description": "always null"})
    destination_minion_pool_id = fields.String(allow_none=True, metadata={"description": "always null"})
    instance_osmorphing_minion_pool_mappings = fields.Dict(metadata={"description": "always {}"})
    base_id = fields.String(allow_none=True, metadata={"description": "the record's own id"})
    clustered = fields.Boolean(metadata={"description": "always false"})


UPSTREAM_DEFAULTS = {
    "reservation_id": None,
    "origin_minion_pool_id": None,
    "destination_minion_pool_id": None,
    "instance_osmorphing_minion_pool_mappings": {},
    "clustered": False,
}


class MigrationOut(UpstreamKeysOut):
    id = fields.String()
    type = fields.Constant("migration")
    status = fields.String()
    last_execution_status = fields.String()
    project_id = fields.String()
    user_id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    deleted_at = fields.DateTime(allow_none=True)
    deleted = fields.Boolean()
    finished_at = fields.DateTime(allow_none=True)
    origin_endpoint_id = fields.String(allow_none=True)
    destination_endpoint_id = fields.String(allow_none=True)
    origin = fields.Dict()
    destination = fields.Dict()
    instances = fields.List(fields.String())
    source_environment = fields.Dict()
    destination_environment = fields.Dict()
    network_map = fields.Dict()
    storage_mappings = fields.Dict()
    user_scripts = fields.Dict()
    notes = fields.String()
    skip_os_morphing = fields.Boolean()
    shutdown_instances = fields.Boolean()
    last_error = fields.String(allow_none=True)
    progress = fields.Dict()
    info = fields.Dict()
    transfer_result = fields.Dict()
    tasks = fields.List(fields.Nested(TaskOut))


class MigrationResponse(PlainDump):
    migration = fields.Nested(MigrationOut)


class MigrationListResponse(PlainDump):
    migrations = fields.List(fields.Nested(MigrationOut))
