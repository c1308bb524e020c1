"""Statuses of migrations and tasks (upstream Coriolis names)."""

import enum


class MigrationStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    CANCELED = "CANCELED"

    @property
    def finished(self) -> bool:
        return self in FINISHED_MIGRATION


FINISHED_MIGRATION = frozenset(
    {MigrationStatus.COMPLETED, MigrationStatus.ERROR, MigrationStatus.CANCELED}
)


class TaskStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    # a disk read waiting for a free read slot on its source host (max_parallel_reads_per_source)
    WAITING = "WAITING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    FORCE_CANCELED = "FORCE_CANCELED"
    UNSCHEDULED = "UNSCHEDULED"

    @property
    def finished(self) -> bool:
        return self in FINISHED_TASK


FINISHED_TASK = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.ERROR,
        TaskStatus.CANCELED,
        TaskStatus.FORCE_CANCELED,
        TaskStatus.UNSCHEDULED,
    }
)
