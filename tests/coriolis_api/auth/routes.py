"""Every route of the API under /v1, with a body that passes validation, and its policy action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.coriolis_tasks.helpers import stub_migration

ENDPOINT_BODY = {"endpoint": {"name": "src", "type": "stub", "connection_info": {"instances": ["vm-1"]}}}
CANCEL = {"cancel": None}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {p}: project, {m}: migration id, {e}: endpoint id
    body: Any = None
    worker: bool = False  # answered by a worker once allowed

    def url(self, project: str, migration: str = "", endpoint: str = "") -> str:
        return "/v1/" + self.path.format(p=project, m=migration, e=endpoint)

    @property
    def names_a_resource(self) -> bool:
        return "{m}" in self.path or "{e}" in self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "{p}/migrations"),
    Route("GET", "{p}/migrations/detail"),
    Route("POST", "{p}/migrations", stub_migration(["vm-1"])),
    Route("GET", "{p}/migrations/{m}"),
    Route("POST", "{p}/migrations/{m}/actions", CANCEL),
    Route("POST", "{p}/migrations/{m}/action", CANCEL),
    Route("DELETE", "{p}/migrations/{m}"),
    Route("GET", "{p}/endpoints"),
    Route("POST", "{p}/endpoints", ENDPOINT_BODY),
    Route("GET", "{p}/endpoints/{e}"),
    Route("PUT", "{p}/endpoints/{e}", {"endpoint": {"name": "renamed"}}),
    Route("DELETE", "{p}/endpoints/{e}"),
    Route("POST", "{p}/endpoints/{e}/actions", {"validate-connection": None}, worker=True),
    Route("GET", "{p}/endpoints/{e}/instances", worker=True),
    Route("GET", "{p}/endpoints/{e}/instances/vm-1", worker=True),
    Route("GET", "{p}/endpoints/{e}/networks", worker=True),
    Route("GET", "{p}/endpoints/{e}/storage", worker=True),
    Route("GET", "{p}/providers"),
    Route("GET", "{p}/providers/stub/schemas/connection"),
    Route("GET", "{p}/providers/stub/schemas/16"),
    Route("GET", "{p}/endpoints/{e}/source-options"),
    Route("GET", "{p}/endpoints/{e}/destination-options"),
    Route("GET", "{p}/endpoints/{e}/source-minion-pool-options"),
    Route("GET", "{p}/endpoints/{e}/destination-minion-pool-options"),
    Route("GET", "{p}/endpoints/{e}/inventory", worker=True),
    Route("GET", "{p}/minion_pools"),
    Route("GET", "{p}/regions"),
    Route("GET", "{p}/services", worker=True),
    Route("GET", "{p}/diagnostics"),
]
