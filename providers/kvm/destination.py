"""The kvm destination: disks and a domain definition in a directory, checked by a qemu boot."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from providers import localpaths
from providers.kvm import disks as images
from providers.kvm.console import run_boot
from providers.kvm.domain import (
    DomainSpec,
    generated_mac,
    normalize_mac,
    render_domain_xml,
    render_qemu_argv,
    replace_drives,
    with_console_log,
)
from providers.kvm.options import Connection, TargetOptions, load_options
from providers.naming import cleaned_name
from providers.types import (
    BootResult,
    DiskRef,
    Firmware,
    ImportedInstance,
    MigrationContext,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

DOMAIN_XML = "domain.xml"
QEMU_CMDLINE = "qemu-cmdline.json"
PIDFILE = "qemu.pid"
CONSOLE_LOG = "boot-console.log"
NVRAM = "OVMF_VARS.fd"


def safe_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]``; a short hash is added when characters were dropped."""
    return cleaned_name(name, r"[^A-Za-z0-9._-]+", strip="-.")


class KvmImporter:
    """Imports disks into ``storage_dir``, writes a libvirt domain and a qemu command line, boots it."""

    def __init__(self, connection: Connection, options: TargetOptions) -> None:
        self.connection = connection
        self.options = options
        self.storage_dir = Path(connection.storage_dir).resolve()

    def instance_name(self, ctx: MigrationContext) -> str:
        """The deterministic name of the instance (and of its directory): coriolis-<migration>-<instance>."""
        return safe_name(ctx.resource_name(ctx.instance))

    def replica_dir(self, transfer_id: str, instance: str) -> Path:
        """Replica disks of a transfer's instance: storage_dir/coriolis-replica-<transfer>-<instance>."""
        return self.storage_dir / safe_name(f"coriolis-replica-{transfer_id}-{instance}")

    def delete_replicas(self, transfer_id: str, instance: str) -> None:
        shutil.rmtree(self.replica_dir(transfer_id, instance), ignore_errors=True)

    def instance_dir(self, ctx: MigrationContext) -> Path:
        """Where the instance's disks and definitions live."""
        return self.storage_dir / self.instance_name(ctx)

    def list_networks(self) -> list[dict[str, Any]]:
        """The networks an instance can get (the ``network`` option): qemu user networking, or none."""
        return [
            {"id": "user", "name": "user", "type": "qemu-user", "vlan_id": None},
            {"id": "none", "name": "none", "type": "none", "vlan_id": None},
        ]

    def list_storage(self) -> list[dict[str, Any]]:
        """The one storage backend: ``storage_dir``, with the capacity and free space of its file system."""
        path = self.storage_dir
        probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
        try:
            stats = os.statvfs(probe)
        except OSError as exc:
            raise ProviderError(f"cannot read the file system of {path}: {exc.strerror}") from None
        return [{
            "id": str(path), "name": path.name or str(path), "type": "directory",
            "capacity_bytes": stats.f_blocks * stats.f_frsize, "free_bytes": stats.f_bavail * stats.f_frsize,
        }]

    def validate(self) -> None:
        """Check that storage_dir is writable and qemu (and qemu-img) can be run."""
        try:
            self.storage_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.storage_dir, prefix=".coriolis-write-test-"):
                pass
        except OSError as exc:
            raise ProviderError(f"storage_dir {self.storage_dir} is not writable: {exc}") from None
        for binary in (self.connection.qemu_binary, "qemu-img"):
            if not shutil.which(binary):
                raise ProviderError(f"{binary} not found")
        if self.connection.accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
            raise ProviderError("accel 'kvm' needs a usable /dev/kvm; use 'tcg'")
        for label, path in (("kernel", self.options.kernel), ("initrd", self.options.initrd)):
            if path and not Path(path).is_file():
                raise ProviderError(f"{label} {path} does not exist")

    def _qemu(self) -> str:
        """The operator's qemu binary (setting ``kvm_qemu_binary``), as a path when on PATH."""
        return shutil.which(self.connection.qemu_binary) or self.connection.qemu_binary

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """virtio disks and NICs, the requested disk format, the source's firmware, NoCloud."""
        return TargetProfile(
            disk_format=self.options.disk_format,
            disk_bus="virtio",
            nic_model="virtio",
            firmware=vm.firmware_type,
            cloud_init_datasources=("NoCloud",),
        )

    def import_disk(self, vm: VmInfo, disk: DiskRef, ctx: MigrationContext, reporter: Reporter) -> DiskRef:
        """Move (same filesystem), copy sparsely or convert ``disk`` into the instance directory.

        Skips the work when the destination already holds a readable image of the same size.

        Args:
            vm: the source instance.
            disk: the converted, morphed disk in staging.
            ctx: the migration; names the instance directory.
            reporter: progress; ``Cancelled`` from it leaves no partial file.
        """
        want = self.options.disk_format
        inst_dir = self.instance_dir(ctx)
        inst_dir.mkdir(parents=True, exist_ok=True)
        dest = inst_dir / f"{safe_name(disk.disk_id)}.{want}"
        src = Path(disk.path)
        src_info = images.image_info(src, disk.format) if src.exists() else None
        expected = src_info["virtual-size"] if src_info else disk.size_bytes
        if dest.exists() and src.resolve() != dest.resolve():
            done = self._verified(disk, dest, want, expected)
            if done:
                reporter.info(f"disk {disk.disk_id} already imported at {dest}")
                return done
            images.remove_quietly(dest)
        elif dest.exists():
            return self._verified(disk, dest, want, 0) or self._fail(f"{dest} is not a {want} image")
        if src_info is None:
            raise ProviderError(f"disk {disk.disk_id}: {src} does not exist")
        partial = dest.with_name(dest.name + ".part")
        images.remove_quietly(partial)
        if disk.format != want or src_info.get("backing-filename"):
            reporter.info(f"converting disk {disk.disk_id} from {disk.format} to {want}")
            images.convert_image(src, disk.format, partial, want, reporter)
            os.replace(partial, dest)
        elif images.same_filesystem(src, inst_dir):
            reporter.step(0, 1, f"moving disk {disk.disk_id}")
            os.rename(src, dest)
        else:
            images.sparse_copy(src, partial, reporter, f"disk {disk.disk_id}")
            os.replace(partial, dest)
        checksum = disk.checksum if disk.format == want else None
        result = self._verified(disk, dest, want, expected, checksum)
        return result or self._fail(f"imported disk {dest} does not verify")

    def _verified(
        self, disk: DiskRef, path: Path, fmt: str, size: int, checksum: str | None = None
    ) -> DiskRef | None:
        """A DiskRef for ``path`` if it reads as ``fmt`` with virtual size ``size`` (0: any)."""
        try:
            info = images.image_info(path, fmt)
        except ProviderError:
            return None
        if size and info.get("virtual-size") != size:
            return None
        return DiskRef(disk.disk_id, str(path), fmt, int(info["virtual-size"]), checksum)

    @staticmethod
    def _fail(message: str) -> DiskRef:
        raise ProviderError(message)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """Write ``domain.xml`` and ``qemu-cmdline.json`` for the imported disks (in the given order).

        Args:
            vm: the source instance (CPUs, memory, firmware, NIC MACs).
            disks: the imported disks, boot disk first.
            ctx: the migration; names the domain coriolis-<migration>-<instance>.
            reporter: progress and warnings.
        """
        inst_dir = self.instance_dir(ctx)
        inst_dir.mkdir(parents=True, exist_ok=True)
        name = self.instance_name(ctx)
        refs = tuple(DiskRef(d.disk_id, str(Path(d.path).resolve()), d.format, d.size_bytes, d.checksum)
                     for d in disks)
        for ref in refs:
            if not Path(ref.path).is_file():
                raise ProviderError(f"disk {ref.disk_id}: {ref.path} does not exist")
        macs = []
        for index, nic in enumerate(vm.nics):
            mac = normalize_mac(nic.mac_address)
            if mac is None:
                mac = generated_mac(f"{name}-nic{index}")
                reporter.warn(f"NIC {index}: MAC {nic.mac_address!r} is unusable, using {mac}")
            macs.append(mac)
        spec = DomainSpec(
            name=name,
            memory_mb=self.options.memory_mb or vm.memory_mb,
            num_cpu=self.options.num_cpu or vm.num_cpu,
            disks=refs,
            macs=tuple(macs),
            machine=self.options.machine,
            accel=self.connection.accel,
            firmware=vm.firmware_type,
            network=self.options.network,
            qemu_binary=self._qemu(),
            kernel=self.options.kernel,
            initrd=self.options.initrd,
            append=self.options.append,
            **self._firmware(vm, inst_dir, reporter),
        )
        xml_text = render_domain_xml(spec)
        ET.fromstring(xml_text)
        _write_atomically(inst_dir / DOMAIN_XML, xml_text)
        _write_atomically(inst_dir / QEMU_CMDLINE, json.dumps(render_qemu_argv(spec), indent=1) + "\n")
        reporter.info(f"defined {name} in {inst_dir}")
        return ImportedInstance(
            id=name,
            name=name,
            disks=refs,
            details={
                "instance_dir": str(inst_dir),
                "domain_xml": str(inst_dir / DOMAIN_XML),
                "qemu_cmdline": str(inst_dir / QEMU_CMDLINE),
                "accel": spec.accel,
                "machine": spec.machine,
                "firmware": str(spec.firmware),
                "memory_mb": spec.memory_mb,
                "num_cpu": spec.num_cpu,
                "macs": list(spec.macs),
                "nvram": spec.nvram,
            },
        )

    def _firmware(self, vm: VmInfo, inst_dir: Path, reporter: Reporter) -> dict[str, Any]:
        if vm.firmware_type != Firmware.EFI:
            return {}
        code, template = self.connection.ovmf_code, self.connection.ovmf_vars
        if not Path(code).is_file():
            reporter.warn(f"EFI firmware {code} is missing (install ovmf); the instance will not boot")
        nvram = inst_dir / NVRAM
        if not nvram.exists():
            if Path(template).is_file():
                localpaths.copy_private(template, nvram)  # the instance's own store: mode 0600 at most
            else:
                reporter.warn(f"EFI variable store template {template} is missing")
        return {"ovmf_code": code, "ovmf_vars_template": template, "nvram": str(nvram)}

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """Boot the instance on throw-away overlays and wait for the boot marker on its console.

        Args:
            instance: what ``create_instance`` returned.
            ctx: the migration; overlays go to its staging directory.
            reporter: progress about once a second; ``Cancelled`` stops qemu and propagates.
        """
        inst_dir = Path(instance.details.get("instance_dir") or self.instance_dir(ctx))
        if not inst_dir.resolve().is_relative_to(self.storage_dir):
            raise ProviderError(f"instance directory {inst_dir} is outside storage_dir")
        argv = json.loads((inst_dir / QEMU_CMDLINE).read_text())
        if not argv or argv[0] != self._qemu():
            raise ProviderError(f"{QEMU_CMDLINE} of {instance.name} does not run the configured qemu binary")
        name = instance.name
        stop_recorded_qemu(inst_dir, name)
        staging = Path(ctx.staging_dir)
        staging.mkdir(parents=True, exist_ok=True)
        scratch: list[Path] = []
        try:
            mapping: dict[str, tuple[str, str]] = {}
            for index, disk in enumerate(instance.disks):
                overlay = staging / f"{name}-boot-{index}.qcow2"
                scratch.append(overlay)
                images.create_overlay(disk.path, disk.format, overlay)
                mapping[disk.path] = (str(overlay), "qcow2")
            nvram = instance.details.get("nvram")
            if nvram and Path(nvram).is_file():
                vars_copy = staging / f"{name}-boot-{NVRAM}"
                scratch.append(vars_copy)
                localpaths.copy_private(nvram, vars_copy)
                mapping[nvram] = (str(vars_copy), "raw")
            log = inst_dir / CONSOLE_LOG
            argv = with_console_log(replace_drives(argv, mapping), str(log))
            reporter.info(f"booting {name} ({self.connection.accel}), waiting up to "
                          f"{self.options.boot_timeout:g} s for {self.options.marker!r}")
            result = run_boot(argv, log, inst_dir / PIDFILE, self.options.marker,
                              self.options.boot_timeout, reporter)
        finally:
            for path in scratch:
                images.remove_quietly(path)
        if result.booted:
            reporter.info(f"{name} booted in {result.seconds} s: {result.message}")
        else:
            reporter.warn(f"{name} did not boot: {result.message}")
        return result

    def cleanup(self, ctx: MigrationContext) -> None:
        """Stop the instance's qemu and remove its directory and boot overlays; safe to repeat."""
        name = self.instance_name(ctx)
        inst_dir = self.instance_dir(ctx)
        stop_recorded_qemu(inst_dir, name)
        staging = Path(ctx.staging_dir)
        if staging.is_dir():
            for path in staging.glob(f"{name}-boot-*"):
                images.remove_quietly(path)
        shutil.rmtree(inst_dir, ignore_errors=True)


def stop_recorded_qemu(inst_dir: Path, name: str) -> None:
    """Kill the qemu whose PID is in the instance's pidfile, if it is still that instance's qemu."""
    pidfile = inst_dir / PIDFILE
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if name.encode() in _process_args(pid):  # the PID may have been reused by another process
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if images.wait_gone(pid, 5.0):
                break
    images.remove_quietly(pidfile)


def _process_args(pid: int) -> list[bytes]:
    """The argv of process ``pid``; retried briefly, as it reads empty while the process execs."""
    for _ in range(20):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        if args:
            return args.split(b"\0")
        time.sleep(0.05)
    return []


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> KvmImporter:
    """The kvm importer for validated ``connection_info`` and ``target_environment``."""
    connection, options = load_options(connection_info, target_environment)
    if not connection.storage_dir:
        raise ProviderError("the kvm destination needs storage_dir in its connection info")
    return KvmImporter(connection, options)
