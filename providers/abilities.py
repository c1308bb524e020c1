"""Optional abilities a provider adds to its role: small protocols checked with ``isinstance``.

An exporter or importer (``providers/types.py``) implements any of these when its cloud or
hypervisor can; the stages and the API ask for the ability, never a ``NotImplementedError``.
The values only these abilities return (``ReplicaWrite``, ``ChangedAreas``) are beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from providers.types import (
    DiskInfo,
    DiskRef,
    ImportedInstance,
    MigrationContext,
    Reporter,
    VmInfo,
)


@runtime_checkable
class ReplicaStore(Protocol):
    """A destination that keeps persistent replica disks for transfers (an optional ability)."""

    def replica_dir(self, transfer_id: str, instance: str) -> Path:
        """Where the replica disks of one instance of a transfer live (a local or mounted path)."""

    def delete_replicas(self, transfer_id: str, instance: str) -> None:
        """Remove every replica disk of the instance; safe to repeat."""


@dataclass(frozen=True)
class ReplicaWrite:
    """What one sync wrote into a snapshot replica: where the replica now is, and how much was written.

    ``checksum`` is the content checksum when the write covered the whole disk; None after an
    incremental write over a parent (the blocks themselves are checksummed by the store).
    """

    location: str
    blocks_written: int
    bytes_written: int
    full: bool
    checksum: str | None = None


@runtime_checkable
class SnapshotReplicaStore(Protocol):
    """A destination whose replica of a disk is its own snapshot, not a file (optional: EBS snapshots).

    Each sync writes a new snapshot: over the previous one (only the changed areas), or on its own
    (the whole disk). The previous snapshot is forgotten only once the new location is committed.
    """

    replica_block_size: int

    def write_replica(self, transfer_id: str, instance: str, disk: DiskInfo, parent: str | None,
                      source: Path | Iterator[tuple[int, bytes]], reporter: Reporter) -> ReplicaWrite:
        """A new snapshot of ``disk``: a raw file's data (``parent`` None), or ``(offset, data)`` pieces
        aligned to ``replica_block_size`` written over ``parent``."""

    def read_replica(self, location: str, size: int, out: Path, reporter: Reporter) -> str:
        """The replica's content into the raw file ``out``; returns its content checksum."""

    def forget_replica(self, location: str) -> None:
        """Delete a replica snapshot a newer one replaced; safe to repeat."""

    def delete_replicas(self, transfer_id: str, instance: str) -> None:
        """Remove every replica snapshot of the instance; safe to repeat."""


@runtime_checkable
class PowerControl(Protocol):
    """A source that can shut its instances down (an optional ability: live migration's cutover)."""

    def power_off(self, vm: VmInfo) -> None:
        """Shut the instance down (gracefully when the guest allows) and return once it is off."""


@runtime_checkable
class NetworkInventory(Protocol):
    """The networks and storage backends an endpoint offers (an optional ability, for mappings).

    Served by ``GET /v1/<project>/endpoints/<id>/networks`` and ``.../storage``.
    """

    def list_networks(self) -> list[dict[str, Any]]:
        """Networks as ``{"id", "name"}`` plus provider-specific fields (``vlan_id``, ``cidr``...)."""

    def list_storage(self) -> list[dict[str, Any]]:
        """Storage backends as ``{"id", "name"}`` plus fields such as ``capacity_bytes``, ``free_bytes``."""


@dataclass
class ChangedAreas:
    """What changed on a source disk since a stored change id: byte extents and the new change id.

    ``extents`` are ``(offset, length)`` pairs; ``full`` means the source could not say (no
    previous id, tracking reset) and the whole disk must be compared.
    """

    change_id: str
    extents: list[tuple[int, int]] = field(default_factory=list)
    full: bool = False


@runtime_checkable
class ChangeTracking(Protocol):
    """A source that reports a disk's changed areas between executions (optional: vSphere CBT,
    qcow2 persistent dirty bitmaps, EBS changed blocks)."""

    def changed_areas(self, vm: VmInfo, disk: DiskInfo, since: str | None, ctx: MigrationContext) -> ChangedAreas:
        """Start tracking if needed and return the areas changed since ``since`` (``full`` when None).

        The returned ``change_id`` names the state this sync reads; the caller stores it with the
        replica only once the data is committed, and passes it back as ``since`` next time. A
        source keeps whatever ``since`` needs until then, so a failed sync loses no change.
        """


@runtime_checkable
class DiskAreaReader(Protocol):
    """A source that reads byte ranges of a disk in place, without exporting the whole disk (optional:
    the cheap half of an incremental sync; without it the disk is exported and the ranges read from it)."""

    def read_areas(
        self, vm: VmInfo, disk: DiskInfo, areas: list[tuple[int, int]], ctx: MigrationContext
    ) -> Iterator[tuple[int, bytes]]:
        """``(offset, data)`` pieces covering ``areas`` (``(offset, length)`` pairs, sorted) in order."""


@runtime_checkable
class TemplateImport(Protocol):
    """A destination that keeps a source template as images instead of a running instance (optional)."""

    def create_template(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """Keep the imported disks as the template's images (``details["template"]`` is true); boot nothing."""



@runtime_checkable
class OptionLookup(Protocol):
    """A provider that looks the choices of its environment options up in its cloud (optional): flavors,
    instance types, networks, key pairs, volume types...

    Served by ``GET /v1/<project>/endpoints/<id>/destination-options`` (the importer's) and
    ``.../source-options`` (the exporter's), merged there with the fixed choices of the option schema.
    """

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """``[{"name", "values", "config_default"?}]`` for options named in the role's schema; ``names``: only
        these (None: all). A value is a string or ``{"id", "name"}``; raises ``ProviderError`` when the cloud fails."""


Lookup = Callable[[], "list[Any] | tuple[list[Any], Any]"]


def run_lookups(lookups: dict[str, Lookup], names: frozenset[str] | None) -> list[dict[str, Any]]:
    """Run the lookups of the options asked for (every one when ``names`` is None), one cloud listing each,
    as upstream's ``{"name", "values", "config_default"?}``; a lookup returns its values, or
    ``(values, config_default)`` when the cloud names a default."""
    out = []
    for name, look in lookups.items():
        if names is not None and name not in names:
            continue
        found = look()
        values, default = found if isinstance(found, tuple) else (found, None)
        entry: dict[str, Any] = {"name": name, "values": values}
        if default is not None:
            entry["config_default"] = default
        out.append(entry)
    return out


def named(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    """``(id, name)`` pairs as upstream's ``{"id", "name"}`` values, sorted by name then id."""
    return [{"id": i, "name": n or i} for i, n in sorted(items, key=lambda p: (p[1] or p[0], p[0]))]
