"""The two-node fleet the fault, node and limit tests share (started once, only when asked for)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.coriolis_tasks.fleets import Fleet, private_database

# node-a reads and converts disks; node-b does the rest. The reaper is quick here (a lost
# node is failed after about 5 s) and each source host allows one disk read at a time.
NODES = {"node-a": ("export,convert", 3), "node-b": ("morph,import,boot,control,plan", 4)}
ENV = {
    "CORIOLIS_LOST_TASK_SECONDS": "4",
    "CORIOLIS_REAPER_INTERVAL": "1.5",
    "CORIOLIS_MAX_PARALLEL_READS_PER_SOURCE": "1",
    "CORIOLIS_READ_SLOT_RETRY_SECONDS": "1",
    "CORIOLIS_CANCEL_WAIT_SECONDS": "10",
}


@pytest.fixture(scope="session")
def two_nodes() -> Iterator[Fleet]:
    with private_database("nodes") as url:
        fleet = Fleet("nodes", url, NODES, ENV)
        try:
            fleet.start_beat()
            fleet.start_api()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()
