"""SQLAlchemy models: endpoints, migrations, their tasks, progress updates and events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from coriolis.database import redaction
from coriolis.database.encrypted import EncryptedJSON, Undecryptable, keyring


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _nothing_sealed() -> dict[str, Any]:
    return dict(redaction.NOTHING_SEALED)


def redacted_column() -> Mapped[dict[str, Any] | None]:
    """The plain sibling of an encrypted column: what responses show of it (``coriolis.database.redaction``)."""
    return mapped_column(JSON, nullable=True, default=_nothing_sealed)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    """Common columns of stored resources (upstream: created/updated/deleted)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=None, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Endpoint(Timestamped, Base):
    __tablename__ = "endpoints"

    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, nullable=True, default=dict)
    connection_info_redacted: Mapped[dict[str, Any] | None] = redacted_column()
    mapped_regions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Migration(Timestamped, Base):
    __tablename__ = "migrations"

    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), index=True)
    origin_endpoint_id: Mapped[str | None] = mapped_column(ForeignKey("endpoints.id"), nullable=True)
    destination_endpoint_id: Mapped[str | None] = mapped_column(ForeignKey("endpoints.id"), nullable=True)
    origin: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    destination: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # inline connection info (or a secret reference), encrypted; NULL when an endpoint is used
    origin_connection_info: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, nullable=True)
    destination_connection_info: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, nullable=True)
    origin_connection_info_redacted: Mapped[dict[str, Any] | None] = redacted_column()
    destination_connection_info_redacted: Mapped[dict[str, Any] | None] = redacted_column()
    source_environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    destination_environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    storage_mappings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_scripts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    instances: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    skip_os_morphing: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_instances: Mapped[bool] = mapped_column(Boolean, default=False)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transfer_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # one table for every run of the pipeline: a migration, a transfer execution or a deployment
    type: Mapped[str] = mapped_column(String(32), default="migration", index=True)
    transfer_id: Mapped[str | None] = mapped_column(ForeignKey("transfers.id"), nullable=True, index=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict, nullable=True)

    tasks: Mapped[list[Task]] = relationship(
        back_populates="migration", order_by="Task.index", cascade="all, delete-orphan"
    )


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    migration_id: Mapped[str] = mapped_column(ForeignKey("migrations.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    instance: Mapped[str] = mapped_column(String(255))
    task_type: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    disk_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    depends_on: Mapped[list[Any]] = mapped_column(JSON, default=list)
    on_error: Mapped[bool] = mapped_column(Boolean, default=False)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    process_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exception_details: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=None, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    migration: Mapped[Migration] = relationship(back_populates="tasks")
    progress_updates: Mapped[list[ProgressUpdate]] = relationship(
        order_by="ProgressUpdate.index", cascade="all, delete-orphan"
    )
    events: Mapped[list[TaskEvent]] = relationship(order_by="TaskEvent.index", cascade="all, delete-orphan")


class ProgressUpdate(Base):
    __tablename__ = "task_progress_updates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    current_step: Mapped[int] = mapped_column(BigInteger, default=0)
    total_steps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=None, onupdate=utcnow)


class TaskEvent(Base):
    __tablename__ = "task_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Transfer(Timestamped, Base):
    """A replicated set of instances: executions sync their disks, deployments create instances."""

    __tablename__ = "transfers"

    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    scenario: Mapped[str] = mapped_column(String(32), default="replica")
    origin_endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"))
    destination_endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"))
    instances: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    destination_environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    storage_mappings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_scripts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    clone_disks: Mapped[bool] = mapped_column(Boolean, default=True)
    skip_os_morphing: Mapped[bool] = mapped_column(Boolean, default=False)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReplicaDisk(Base):
    """A persistent replica of one source disk at the destination, and the generation it holds."""

    __tablename__ = "replica_disks"
    __table_args__ = (UniqueConstraint("transfer_id", "instance", "disk_id", name="uq_replica_disk"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    instance: Mapped[str] = mapped_column(String(255))
    disk_id: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str | None] = mapped_column(String(128), nullable=True)
    change_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Schedule(Timestamped, Base):
    """When to run a transfer's executions: cron fields (None is a wildcard)."""

    __tablename__ = "schedules"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    minute: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hour: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dom: Mapped[str | None] = mapped_column(String(64), nullable=True)
    month: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dow: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    expiration_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    shutdown_instance: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_deploy: Mapped[bool] = mapped_column(Boolean, default=False)
    # the minute this schedule last fired for: claimed atomically, so two beats never fire twice
    last_fired_for: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Region(Timestamped, Base):
    """A region endpoints are mapped to (``mapped_regions``); regions are the service's, shared by projects."""

    __tablename__ = "regions"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


def _keep_redacted(sibling: str):
    def on_set(target, value, _old, _initiator) -> None:
        if isinstance(value, Undecryptable):
            return  # its ciphertext is written back unchanged: so is what it shows
        setattr(target, sibling, redaction.stored(value, keyring().primary_id))

    return on_set


REDACTED_COLUMNS = {
    Endpoint: ("connection_info",),
    Migration: ("origin_connection_info", "destination_connection_info"),
}
for _model, _names in REDACTED_COLUMNS.items():
    for _name in _names:
        event.listen(getattr(_model, _name), "set", _keep_redacted(_name + redaction.SUFFIX))
