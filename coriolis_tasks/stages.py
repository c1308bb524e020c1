"""The stage tasks: each loads its inputs by id, calls one domain function, returns a small ref."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coriolis_tasks import staging
from coriolis_tasks.app import celery_app
from coriolis_tasks.control import complete_if_done
from coriolis_tasks.runtime import StageRun, run_stage
from providers.abilities import TemplateImport
from providers.naming import cleaned_name
from providers.types import BootResult, DiskRef, ImportedInstance, OsType, ProviderError

if TYPE_CHECKING:
    from conversion.nbdstream import StreamStats as ConversionStats


class StageError(Exception):
    """A stage found its outcome wrong (checksum mismatch, no boot...)."""


def _ordered_disks(run: StageRun, task_type: str) -> list[DiskRef]:
    order = {d.id: n for n, d in enumerate(run.vm().disks)}
    refs = [DiskRef.from_dict(r) for r in run.inputs[task_type]]
    return sorted(refs, key=lambda r: order.get(r.disk_id, len(order)))


def _digest(run: StageRun, path: str, fmt: str) -> str:
    """The content digest, read once through a read-only export; nothing is written anywhere."""
    from conversion import nbdstream

    return nbdstream.digest(path, fmt, scratch_dir=run.ctx.staging_dir, trusted=True).digest


def export_disk(run: StageRun) -> dict[str, Any]:
    vm = run.vm()
    disk = vm.disk(run.disk_id or "")
    return run.exporter().export_disk(vm, disk, run.ctx, run.reporter).to_dict()


def _converted_name(exported: DiskRef, fmt: str) -> str:
    stem = Path(exported.path).stem
    if exported.member_length is not None:  # several disks of one OVA: one file each
        # cleaned as cloud names are: ids differing only in dropped characters still get their own file
        stem = f"{stem}-{cleaned_name(exported.disk_id, r'[^A-Za-z0-9._-]+')}"
    return f"{stem}.converted.{fmt}"


def convert_disk(run: StageRun) -> dict[str, Any]:
    """One pass: the source is read once (data only), hashed on the way and written once; the
    destination is then read back through its own format driver and must give the same digest."""
    from conversion import Member
    from conversion.onepass import ContentMismatch, copy_verified

    exported = DiskRef.from_dict(run.input("EXPORT_DISK"))
    fmt = run.target().disk_format
    run.ctx.staging_dir.mkdir(parents=True, exist_ok=True)
    out = run.ctx.staging_dir / _converted_name(exported, fmt)
    message = f"converting disk {exported.disk_id}: {exported.format} -> {fmt}"
    source = exported
    if not (exported.checksum and out.exists() and _digest(run, str(out), fmt) == exported.checksum):
        run.reporter.step(0, 10000, message)
        member = None
        if exported.member_length is not None:
            member = Member(exported.member_offset or 0, exported.member_length)

        def copied(stats: ConversionStats) -> None:
            run.reporter.info(
                f"disk {exported.disk_id}: source content checksum {stats.digest} "
                f"({stats.bytes_read} bytes of data read once, {stats.bytes_written} written; "
                f"{stats.file_bytes_read} bytes read from the source file, {stats.storage_bytes_read} of them "
                f"from storage)"
            )

        try:
            _, digest = copy_verified(
                exported.path, exported.format, out, fmt, expected=exported.checksum, member=member,
                member_digest=exported.member_digest,
                scratch_dir=run.ctx.staging_dir, on_copied=copied,
                progress=lambda done, total: run.reporter.step(done * 10000 // max(total, 1), 10000, message),
            )
        except ContentMismatch as exc:
            raise StageError(f"disk {exported.disk_id}: {exc}") from None
        source = replace(exported, checksum=digest)
        # kept with the export's result, so a redelivered conversion can verify instead of redoing
        run.update_input("EXPORT_DISK", checksum=source.checksum)
        run.reporter.info(f"disk {source.disk_id} converted to {fmt}; content checksum {digest} matches")
    if Path(source.path).is_relative_to(run.ctx.staging_dir) and Path(source.path) != out:
        Path(source.path).unlink(missing_ok=True)
    return DiskRef(source.disk_id, str(out), fmt, source.size_bytes, source.checksum).to_dict()


def morph_instance(run: StageRun) -> dict[str, Any]:
    disks = _ordered_disks(run, "CLONE_DISK" if "CLONE_DISK" in run.inputs else "CONVERT_DISK")
    target = run.target()
    out: dict[str, Any] = {"disks": [d.to_dict() for d in disks]}
    if run.migration.skip_os_morphing or not target.morph:
        why = "skip_os_morphing was requested" if run.migration.skip_os_morphing else "destination needs none"
        run.reporter.info(f"OS morphing skipped: {why}")
        return {**out, "skipped": True}
    from morphing import MorphOptions, Toolkit, morph
    from morphing.appliance import ApplianceConfig

    env = run.migration.destination_environment or {}
    options = MorphOptions(preserve_static_ips=bool(env.get("preserve_static_ips", False)))
    settings = run.settings
    appliance = ApplianceConfig.from_settings(settings)
    toolkit = Toolkit(settings.virtio_win, settings.windows_firstboot_service, settings.cloudbase_init_msi or None)
    result = morph(
        [(Path(d.path), d.format) for d in disks], run.vm(), target, options, run.reporter, appliance,
        run.migration.user_scripts, run.instance, toolkit,
    )  # fmt: skip
    return {**out, "morph": result.to_dict()}


def import_instance(run: StageRun) -> dict[str, Any]:
    importer = run.importer()
    vm = run.vm()
    disks = [DiskRef.from_dict(d) for d in run.input("OS_MORPHING")["disks"]]
    imported = [importer.import_disk(vm, d, run.ctx, run.reporter) for d in disks]
    if vm.is_template and isinstance(importer, TemplateImport):
        instance = importer.create_template(vm, imported, run.ctx, run.reporter)
        run.reporter.info(f"template {vm.name} kept as {len(imported)} image(s) at the destination ({instance.id})")
        return instance.to_dict()
    if vm.is_template:
        run.reporter.warn(f"{vm.name} is a template, but this destination keeps no templates: it becomes an instance")
    instance = importer.create_instance(vm, imported, run.ctx, run.reporter)
    run.reporter.info(f"instance {instance.name} created at the destination ({instance.id})")
    result = instance.to_dict()
    result["guest_os_type"] = str(_os_type(run))  # for the boot stage, which sees only this result
    return result


def boot_instance(run: StageRun) -> dict[str, Any]:
    instance = ImportedInstance.from_dict(run.input("IMPORT_INSTANCE"))
    if instance.details.get("template"):
        run.reporter.info(f"{instance.name} is a template: its images are not booted")
        return BootResult(False, None, "a template: kept as images, not booted").to_dict()
    if _os_type(run) == OsType.WINDOWS:
        # no Windows image can boot here: say so instead of reporting a boot that was never seen
        message = "not checked (Windows): the instance was created; its first boot runs the Coriolis first-boot service"
        run.reporter.warn(f"boot check of {instance.name}: {message}")
        return BootResult(False, None, message, checked=False).to_dict()
    result = run.importer().boot(instance, run.ctx, run.reporter)
    if not result.booted:
        raise StageError(f"the migrated instance did not boot: {result.message}")
    run.reporter.info(f"instance booted in {result.seconds:.1f} s: {result.message}")
    return result.to_dict()


def _os_type(run: StageRun) -> OsType:
    """The guest's OS as the morph found it (the source's word when the morph was skipped)."""
    found = None
    if "OS_MORPHING" in run.inputs:
        found = ((run.input("OS_MORPHING").get("morph") or {}).get("os_info") or {}).get("os_type")
    elif "IMPORT_INSTANCE" in run.inputs:
        found = run.input("IMPORT_INSTANCE").get("guest_os_type")
    return OsType(found) if found and found != "unknown" else run.vm().os_type


def finalize_instance(run: StageRun) -> dict[str, Any]:
    instance = run.input("BOOT_INSTANCE")
    staging.remove(run.settings.staging_dir, run.migration_id, run.instance)
    return {"boot": instance}


def register_stage(name: str, body):
    @celery_app.task(name=f"coriolis.stage.{name}", bind=True)
    def stage_task(self, task_id: str) -> dict[str, Any]:
        result = run_stage(task_id, body, self.request.hostname)
        if name.startswith("finalize"):
            complete_if_done(task_id)
        return result

    stage_task.__doc__ = body.__doc__
    return stage_task


export = register_stage("export", export_disk)
convert = register_stage("convert", convert_disk)
morph = register_stage("morph", morph_instance)
import_ = register_stage("import", import_instance)
boot = register_stage("boot", boot_instance)
finalize = register_stage("finalize", finalize_instance)

__all__ = ["ProviderError", "StageError"]
