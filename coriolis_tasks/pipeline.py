"""The stage order of each kind of run, declared as data, and ``build()``, which makes the canvas.

A migration, per instance: ``group(chain(export, convert) per disk) -> morph -> import -> boot ->
finalize``. A transfer execution: ``group(replicate per disk) -> finalize``. A deployment (from a
transfer's replica disks): ``group(clone per disk) -> morph -> import -> boot -> finalize``.
Every signature is immutable and carries only its task id: a stage loads what it needs from
the database and finds its inputs in the results of the tasks it depends on.

Export and convert stay two tasks (upstream's EXPORT_DISK and CONVERT_DISK, which clients show)
even where the disk moves in one pass: a source readable in place (VMX folder, flat VMDK, kvm
image) exports a reference at no cost, and CONVERT_DISK reads it once, hashing and writing on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from celery import chain, group, signature
from celery.canvas import Signature

CONTROL_QUEUE = "control"
# planning reads every instance from the source: its own pool, so a burst of new migrations
# never delays the short control tasks (finalize, cleanup) of migrations already running
PLAN_QUEUE = "plan"
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


MIGRATION = "migration"
EXECUTION = "transfer_execution"
DEPLOYMENT = "deployment"
LIVE_EXECUTION = "live_execution"  # the pipeline of an execution of a live_migration transfer

_MORPH_TO_FINALIZE: tuple[Stage, ...] = (
    Stage("morph", "OS_MORPHING", "morph"),
    Stage("import", "IMPORT_INSTANCE", "import"),
    Stage("boot", "BOOT_INSTANCE", "boot"),
    Stage("finalize", "FINALIZE_INSTANCE_DEPLOYMENT", CONTROL_QUEUE),
)
PIPELINES: dict[str, tuple[Stage, ...]] = {
    MIGRATION: (
        Stage("export", "EXPORT_DISK", "export", per_disk=True),
        Stage("convert", "CONVERT_DISK", "convert", per_disk=True),
        *_MORPH_TO_FINALIZE,
    ),
    EXECUTION: (
        Stage("replicate", "REPLICATE_DISK", "export", per_disk=True),
        Stage("finalize_execution", "FINALIZE_TRANSFER_EXECUTION", CONTROL_QUEUE),
    ),
    # live_migration: sync while the source runs (several passes), shut it down, sync what is left
    LIVE_EXECUTION: (
        Stage("replicate", "REPLICATE_DISK", "export", per_disk=True),
        Stage("shutdown", "SHUTDOWN_INSTANCE", "export"),
        Stage("replicate_final", "REPLICATE_DISK_FINAL", "export", per_disk=True),
        Stage("finalize_execution", "FINALIZE_TRANSFER_EXECUTION", CONTROL_QUEUE),
    ),
    DEPLOYMENT: (
        Stage("clone", "CLONE_DISK", "convert", per_disk=True),
        *_MORPH_TO_FINALIZE,
    ),
}
STAGES: tuple[Stage, ...] = PIPELINES[MIGRATION]
ALL_STAGES: tuple[Stage, ...] = tuple({s.name: s for p in PIPELINES.values() for s in p}.values())
QUEUES: tuple[str, ...] = tuple(dict.fromkeys([*(s.queue for s in ALL_STAGES), CONTROL_QUEUE, PLAN_QUEUE]))
STAGE_BY_TYPE = {s.task_type: s for s in ALL_STAGES}
FINAL_TASK_TYPES = frozenset(p[-1].task_type for p in PIPELINES.values())


def pipeline_of(run_type: str, options: dict | None) -> str:
    """The pipeline a run follows: its type, except live-migration executions."""
    if run_type == EXECUTION and (options or {}).get("scenario") == "live_migration":
        return LIVE_EXECUTION
    return run_type


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


def plan_instance(
    instance: str, disk_ids: Sequence[str], info_key: str, kind: str = MIGRATION
) -> list[PlannedTask]:
    """The tasks of one instance in stage order; ``key``s are local names for ``depends_on``."""
    planned: list[PlannedTask] = []
    per_disk = [[info_key] for _ in disk_ids]
    previous = [info_key]
    for stage in PIPELINES[kind]:
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


def _sig(stage: Stage, task_id: str, migration_id: str, instance: str, disk_id: str | None) -> Signature:
    # ``shadow`` is the name workers report in their events: what Flower lists for the task
    shadow = f"{stage.name} mig={migration_id[:8]} vm={instance}" if migration_id else f"{stage.name} vm={instance}"
    if disk_id:
        shadow += f" disk={disk_id}"
    return signature(stage.task_name, args=(task_id,), immutable=True, task_id=task_id, shadow=shadow)


def build(tasks: Sequence[tuple[str, str, str | None, str]], migration_id: str = "") -> Signature:
    """The canvas for a migration's planned tasks.

    Args:
        tasks: ``(task_id, task_type, disk_id, instance)`` of every stage task, in creation order.
        migration_id: shown (shortened) in each task's display name.
    """
    by_instance: dict[str, list[tuple[str, str, str | None]]] = {}
    for task_id, task_type, disk_id, instance in tasks:
        if task_type in STAGE_BY_TYPE:
            by_instance.setdefault(instance, []).append((task_id, task_type, disk_id))
    instance_chains = []
    for instance, rows in by_instance.items():
        # consecutive per-disk stages run as one chain per disk, the disks side by side (a group);
        # an instance-level stage waits for the whole group before it
        segments: list[Signature] = []
        per_disk: dict[str, list[Signature]] = {}
        for task_id, task_type, disk_id in rows:
            stage = STAGE_BY_TYPE[task_type]
            if stage.per_disk:
                per_disk.setdefault(disk_id or "", []).append(_sig(stage, task_id, migration_id, instance, disk_id))
                continue
            if per_disk:
                segments.append(group([chain(*sigs) for sigs in per_disk.values()]))
                per_disk = {}
            segments.append(_sig(stage, task_id, migration_id, instance, None))
        if per_disk:
            segments.append(group([chain(*sigs) for sigs in per_disk.values()]))
        instance_chains.append(chain(*segments))
    return group(instance_chains)
