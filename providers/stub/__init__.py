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


def _exporter(connection_info, environment) -> StubExporter:
    return StubExporter(StubConnectionSchema().load(connection_info), StubSourceSchema().load(environment))


def _importer(connection_info, environment) -> StubImporter:
    return StubImporter(
        StubDestinationConnectionSchema().load(connection_info), StubDestinationSchema().load(environment)
    )


PROVIDER = ProviderSpec(
    name="stub",
    description="STUB: synthetic VMs and a null destination, for tests and load tests (not for real use)",
    connection_schema=StubConnectionSchema,
    source_environment_schema=StubSourceSchema,
    destination_environment_schema=StubDestinationSchema,
    exporter=_exporter,
    importer=_importer,
    is_stub=True,
)
