"""The stage order, declared as data, and ``build()``, which turns planned tasks into a canvas.

Per instance: ``group(chain(export, convert) per disk) -> morph -> import -> boot -> finalize``.
Every signature is immutable and carries only its task id: a stage loads what it needs from
the database and finds its inputs in the results of the tasks it depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from celery import chain, group, signature
from celery.canvas import Signature

CONTROL_QUEUE = "control"
INFO_TASK = "GET_INSTANCE_INFO"
CLEANUP_TASK = "CLEANUP_INSTANCE_RESOURCES"


@dataclass(frozen=True)
class Stage:
    """One step of a migration: its task name, upstream task type, pool and fan-out."""

    name: str
    task_type: str
    queue: str
    per_disk: bool = False

    @property
    def task_name(self) -> str:
        return f"coriolis.stage.{self.name}"


STAGES: tuple[Stage, ...] = (
    Stage("export", "EXPORT_DISK", "export", per_disk=True),
    Stage("convert", "CONVERT_DISK", "convert", per_disk=True),
    Stage("morph", "OS_MORPHING", "morph"),
    Stage("import", "IMPORT_INSTANCE", "import"),
    Stage("boot", "BOOT_INSTANCE", "boot"),
    Stage("finalize", "FINALIZE_INSTANCE_DEPLOYMENT", CONTROL_QUEUE),
)
QUEUES: tuple[str, ...] = tuple(dict.fromkeys([*(s.queue for s in STAGES), CONTROL_QUEUE]))
STAGE_BY_TYPE = {s.task_type: s for s in STAGES}


@dataclass(frozen=True)
class PlannedTask:
    """A task row to create: the pipeline's plan for one instance."""

    key: str
    instance: str
    task_type: str
    queue: str
    disk_id: str | None
    depends_on: tuple[str, ...]
    on_error: bool = False


def plan_instance(instance: str, disk_ids: Sequence[str], info_key: str) -> list[PlannedTask]:
    """The tasks of one instance in stage order; ``key``s are local names for ``depends_on``."""
    planned: list[PlannedTask] = []
    per_disk = [[info_key] for _ in disk_ids]
    previous = [info_key]
    for stage in STAGES:
        if stage.per_disk:
            for n, disk_id in enumerate(disk_ids):
                key = f"{instance}/{stage.name}/{n}"
                planned.append(
                    PlannedTask(key, instance, stage.task_type, stage.queue, disk_id, tuple(per_disk[n]))
                )
                per_disk[n] = [key]
            previous = [k for keys in per_disk for k in keys]
        else:
            key = f"{instance}/{stage.name}"
            planned.append(PlannedTask(key, instance, stage.task_type, stage.queue, None, tuple(previous)))
            previous = [key]
            per_disk = [[key] for _ in disk_ids]
    planned.append(
        PlannedTask(f"{instance}/cleanup", instance, CLEANUP_TASK, CONTROL_QUEUE, None, (), on_error=True)
    )
    return planned


def _sig(stage: Stage, task_id: str) -> Signature:
    return signature(stage.task_name, args=(task_id,), immutable=True, task_id=task_id)


def build(tasks: Sequence[tuple[str, str, str | None, str]]) -> Signature:
    """The canvas for a migration's planned tasks.

    Args:
        tasks: ``(task_id, task_type, disk_id, instance)`` of every stage task, in creation order.
    """
    by_instance: dict[str, list[tuple[str, str, str | None]]] = {}
    for task_id, task_type, disk_id, instance in tasks:
        if task_type in STAGE_BY_TYPE:
            by_instance.setdefault(instance, []).append((task_id, task_type, disk_id))
    instance_chains = []
    for rows in by_instance.values():
        per_disk: dict[str, list[Signature]] = {}
        tail: list[Signature] = []
        for task_id, task_type, disk_id in rows:
            stage = STAGE_BY_TYPE[task_type]
            if stage.per_disk:
                per_disk.setdefault(disk_id or "", []).append(_sig(stage, task_id))
            else:
                tail.append(_sig(stage, task_id))
        disks = group([chain(*sigs) for sigs in per_disk.values()])
        instance_chains.append(chain(disks, *tail))
    return group(instance_chains)
