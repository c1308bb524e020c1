"""The ``stub`` provider: synthetic disks with real bytes, for tests and load tests only."""

from providers.registry import ProviderSpec
from providers.stub.destination import StubImporter
from providers.stub.options import (
    StubConnectionSchema,
    StubDestinationConnectionSchema,
    StubDestinationSchema,
    StubSourceSchema,
)
from providers.stub.source import StubExporter
from providers.types import ProviderError


def _exporter(connection_info, environment) -> StubExporter:
    return StubExporter(StubConnectionSchema().load(connection_info), StubSourceSchema().load(environment))


def _importer(connection_info, environment) -> StubImporter:
    connection = StubDestinationConnectionSchema().load(connection_info)
    if not connection["storage_dir"]:  # the worker sets the first allowed root when none was given
        raise ProviderError("the stub destination needs storage_dir")
    return StubImporter(connection, StubDestinationSchema().load(environment))


PROVIDER = ProviderSpec(
    name="stub",
    description="STUB: synthetic VMs and a null destination, for tests and load tests (not for real use)",
    connection_schema=StubConnectionSchema,
    source_environment_schema=StubSourceSchema,
    destination_environment_schema=StubDestinationSchema,
    exporter=_exporter,
    importer=_importer,
    is_stub=True,
    local_path_fields=("storage_dir",),
    local_path_default="storage_dir",
)
