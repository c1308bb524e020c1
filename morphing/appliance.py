"""One libguestfs appliance per instance: its disks attached, the guest inspected and mounted inside it."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from morphing.accel import choose_accel
from morphing.bindings import load_guestfs
from morphing.devices import BlockId, DeviceMap, legacy_names
from morphing.errors import MorphError
from morphing.guestfs_tree import GuestfsTree
from morphing.runner import ApplianceRunner
from morphing.sessions import SESSION_PREFIX, kill_processes_mentioning, sweep_stale_sessions
from morphing.windows import volumes as windows_volumes
from providers.types import Reporter

DEFAULT_CACHE_DIR = "/var/tmp/coriolis-appliance"
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"


@dataclass(frozen=True)
class ApplianceConfig:
    """How appliances are run on this host (from the settings).

    Attributes:
        accel: "auto" (probe KVM once per host boot, TCG when it does not work), "kvm" or "tcg".
        timeout: seconds a whole appliance session may take; then the appliance is killed.
        launch_timeout: seconds one launch may take before its qemu is killed and the launch tried again
            (a launch takes ~20 s under TCG; an appliance kernel was seen spinning in early boot for ever).
        launch_attempts: launches tried before the session fails.
        cache_dir: supermin's appliance and the KVM probe, shared by every worker on the host.
        run_dir: where each session's sockets and overlays live (removed at the end; a killed
            worker's leftovers are removed by the next session on the host).
        memsize: appliance memory in MiB (0: libguestfs' default).
        smp: appliance vCPUs (at most the host's, two by default): guest tools such as
            update-initramfs and dracut compress with several threads, and TCG runs each vCPU on a
            host thread of its own.
    """

    accel: str = "auto"
    timeout: float = 3600.0
    launch_timeout: float = 600.0
    launch_attempts: int = 2
    cache_dir: str = DEFAULT_CACHE_DIR
    run_dir: str = "/tmp"
    memsize: int = 1024
    smp: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))

    @classmethod
    def from_settings(cls, settings: Any) -> ApplianceConfig:
        return cls(
            accel=settings.appliance_accel,
            timeout=float(settings.appliance_timeout),
            launch_timeout=float(settings.appliance_launch_timeout),
            cache_dir=settings.appliance_cache_dir or DEFAULT_CACHE_DIR,
        )


@dataclass
class Inspection:
    """What libguestfs' inspection says about the guest (reported as an event, kept in the result)."""

    os_type: str = "unknown"
    distro: str = "unknown"
    version: str = ""
    product: str = ""
    arch: str = ""
    package_format: str = ""
    package_management: str = ""
    hostname: str = ""
    firmware: str = "bios"
    root: str = ""
    mountpoints: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        mounts = ", ".join(f"{mp} on {dev}" for mp, dev in self.mountpoints.items())
        return (
            f"inspection: {self.product or self.distro} ({self.os_type}, distro {self.distro} {self.version}, "
            f"{self.arch}, packages {self.package_format}/{self.package_management}, firmware {self.firmware}); "
            f"mountpoints: {mounts or 'none'}"
        )


class Appliance:
    """A launched libguestfs appliance with an instance's disks; the guest mounted inside it.

    Use as a context manager. On exit the appliance is shut down (writes flushed; a failure to
    do so is an error, never silent) and its session directory removed — also on errors,
    ``Cancelled`` and timeouts. A SIGKILLed owner's qemu is killed by libguestfs' recovery
    process, and its session directory by the next session on the host.
    """

    def __init__(
        self,
        disks: list[tuple[Path, str]],
        reporter: Reporter,
        config: ApplianceConfig | None = None,
        readonly: bool = False,
    ) -> None:
        """Args: readonly: attach the disks behind a temporary overlay (writes are discarded)."""
        if not disks:
            raise MorphError("no disks to attach to the appliance")
        self.disks = disks
        self.reporter = reporter
        self.config = config or ApplianceConfig()
        self.readonly = readonly
        self.g: Any = None
        self.session = Path()
        self.accel = ""
        self.launch_seconds = 0.0
        self.inspection = Inspection()
        self.devices: DeviceMap = {}
        self.expired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Appliance:
        try:
            self._start()
        except BaseException as exc:
            self._stop(quiet=True)
            if self.expired:
                raise self.timeout_error() from exc
            if isinstance(exc, RuntimeError):
                raise MorphError(f"appliance: {exc}") from exc
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop(quiet=exc is not None)
        if self.expired and exc is not None:  # whatever call the kill interrupted, say why
            raise self.timeout_error() from exc

    def timeout_error(self) -> MorphError:
        return MorphError(f"the appliance session exceeded its {self.config.timeout:.0f} s timeout and was killed")

    @property
    def tree(self) -> GuestfsTree:
        return GuestfsTree(self.g, self.session)

    @property
    def runner(self) -> ApplianceRunner:
        return ApplianceRunner(self.g)

    # -- lifecycle -------------------------------------------------------------------------------

    def _start(self) -> None:
        guestfs = load_guestfs()
        cache = Path(self.config.cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        for stale in sweep_stale_sessions(self.config.run_dir):
            self.reporter.warn(f"appliance: removed {stale}, left by a killed worker")
        self.session = Path(tempfile.mkdtemp(prefix=f"{SESSION_PREFIX}{os.getpid()}-", dir=self.config.run_dir))
        self.accel, why = choose_accel(self.config.accel, cache)
        self._timer = threading.Timer(self.config.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()
        started = time.monotonic()
        for attempt in range(1, self.config.launch_attempts + 1):
            self._configure(guestfs, cache)
            if self._launch_in_time():
                break
            self.g.close()
            self.g = None
            if self.expired:
                raise self.timeout_error()
            if attempt == self.config.launch_attempts:
                raise MorphError(
                    f"appliance: did not come up within {self.config.launch_timeout:.0f} s in {attempt} attempt(s)"
                )
            self.reporter.warn(
                f"appliance: did not come up within {self.config.launch_timeout:.0f} s (attempt {attempt} of "
                f"{self.config.launch_attempts}): its qemu was killed; launching again"
            )
        self.launch_seconds = time.monotonic() - started
        self.reporter.info(
            f"appliance: launched in {self.launch_seconds:.1f} s with {len(self.disks)} disk(s), "
            f"no network, accelerator {self.accel} ({why})"
        )
        self.devices = self._device_map()
        self._inspect_and_mount()

    def _configure(self, guestfs: ModuleType, cache: Path) -> None:
        """A new libguestfs handle (``self.g``) set up for this session, its disks added, not launched."""
        g = guestfs.GuestFS(python_return_dict=True, environment=False)
        self.g = g
        # Sockets and overlays in this session's directory (libguestfs takes the socket directory
        # only from XDG_RUNTIME_DIR): given as a list, never read from this process' environment.
        g.parse_environment_list(
            [f"XDG_RUNTIME_DIR={self.session}", f"TMPDIR={self.session}", f"LIBGUESTFS_CACHEDIR={cache}"]
        )
        g.set_backend("direct")
        g.set_cachedir(str(cache))
        g.set_tmpdir(str(self.session))
        g.set_network(False)
        g.set_recovery_proc(True)
        g.set_autosync(True)
        if self.config.memsize:
            g.set_memsize(self.config.memsize)
        g.set_smp(max(1, min(self.config.smp, os.cpu_count() or 1)))
        if self.accel == "tcg":
            g.set_backend_setting("force_tcg", "1")
        for path, fmt in self.disks:
            if not fmt:
                raise MorphError(f"disk {path} has no format: formats are never probed")
            # "unsafe": qemu ignores the guest's flushes (dpkg and update-initramfs fsync file by file,
            # each a host fsync of the image); the images are made durable once, when the session ends.
            g.add_drive_opts(str(path), format=fmt, readonly=self.readonly, cachemode="unsafe")

    def _launch_in_time(self) -> bool:
        """Launch ``self.g``; False when the launch watchdog killed a qemu that did not come up in time.

        Other launch failures raise (libguestfs' ``RuntimeError``): they are not cured by trying again.
        """
        hung = threading.Event()

        def kill_launch() -> None:
            hung.set()
            self._kill_session_processes()

        watchdog = threading.Timer(self.config.launch_timeout, kill_launch)
        watchdog.daemon = True
        watchdog.start()
        try:
            self.g.launch()
        except RuntimeError:
            if not hung.is_set() or self.expired:
                raise
        finally:
            watchdog.cancel()
        if hung.is_set():  # it may have come up as the watchdog fired: its qemu is gone either way
            self._kill_session_processes()
            return False
        return True

    def _kill_session_processes(self) -> None:
        if str(self.session) != ".":  # no session yet: mentioning "." would match every process
            kill_processes_mentioning(str(self.session))

    def _expire(self) -> None:
        """Watchdog: the session took too long; kill its qemu so the blocked call returns."""
        self.expired = True
        self._kill_session_processes()

    def _stop(self, quiet: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
        g, self.g = self.g, None
        try:
            if g is not None:
                try:
                    if not self.expired:
                        g.shutdown()
                        self._sync_disks()
                except (RuntimeError, OSError) as exc:
                    if not quiet:
                        raise MorphError(f"appliance: shutting down failed, guest writes may be lost: {exc}") from exc
                finally:
                    g.close()
        finally:
            self._kill_session_processes()
            if self.session.name.startswith(SESSION_PREFIX):
                for _ in range(10):  # qemu or the recovery process may still be closing files in it
                    shutil.rmtree(self.session, ignore_errors=True)
                    if not self.session.exists():
                        break
                    time.sleep(0.2)

    def _sync_disks(self) -> None:
        """Make the written images durable (qemu ignored the guest's flushes: cachemode "unsafe")."""
        if self.readonly:
            return
        for path, _fmt in self.disks:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # -- what the appliance sees -----------------------------------------------------------------

    def _device_map(self) -> DeviceMap:
        """Old device names (/dev/sda1, /dev/vg/lv...) → the UUID/label/type of what is on them."""
        g = self.g
        devices: DeviceMap = {}
        whole = set(g.list_devices())
        for dev, fstype in g.list_filesystems().items():
            block = BlockId(
                uuid=_attempt(g.vfs_uuid, dev) or None,
                fstype=None if fstype == "unknown" else fstype,
                label=_attempt(g.vfs_label, dev) or None,
            )
            if not (block.uuid or block.fstype):
                continue
            names: list[str] = []
            if dev in whole:
                names = legacy_names(g.device_index(dev), None)
            elif _attempt(g.is_lv, dev):
                lv = _attempt(g.lvm_canonical_lv_name, dev) or dev
                vg, _, name = lv.removeprefix("/dev/").partition("/")
                names = [lv, f"/dev/mapper/{vg.replace('-', '--')}-{name.replace('-', '--')}"]
            else:
                disk = _attempt(g.part_to_dev, dev)
                number = _attempt(g.part_to_partnum, dev)
                if disk and number:
                    names = legacy_names(g.device_index(disk), number)
            for name in names:
                devices[name] = block
        return devices

    def _firmware(self) -> str:
        g = self.g
        for part in g.list_partitions():
            disk = _attempt(g.part_to_dev, part)
            if disk and _attempt(g.part_get_parttype, disk) == "gpt":
                guid = _attempt(g.part_get_gpt_type, disk, g.part_to_partnum(part)) or ""
                if guid.upper() == ESP_GUID:
                    return "uefi"
        return "bios"

    def _inspect_and_mount(self) -> None:
        g = self.g
        roots = g.inspect_os()
        if not roots:
            windows_volumes.refuse_bitlocker(g)
            found = ", ".join(f"{d}: {t}" for d, t in g.list_filesystems().items()) or "no filesystem at all"
            raise MorphError(f"no operating system found on the disks ({found})")
        if len(roots) > 1:
            self.reporter.warn(f"inspection: {len(roots)} operating systems found; morphing the one on {roots[0]}")
        root = roots[0]
        major, minor = g.inspect_get_major_version(root), g.inspect_get_minor_version(root)
        mountpoints = g.inspect_get_mountpoints(root)
        ordered = sorted(mountpoints, key=lambda mp: (mp.rstrip("/").count("/"), mp))
        self.inspection = Inspection(
            os_type=g.inspect_get_type(root),
            distro=g.inspect_get_distro(root),
            version=f"{major}.{minor}",
            product=g.inspect_get_product_name(root),
            arch=g.inspect_get_arch(root),
            package_format=g.inspect_get_package_format(root),
            package_management=g.inspect_get_package_management(root),
            hostname=_attempt(g.inspect_get_hostname, root) or "",
            firmware=self._firmware(),
            root=root,
            mountpoints={mp: mountpoints[mp] for mp in ordered},
        )
        self.reporter.info(self.inspection.summary())
        if self.inspection.os_type == "windows" and not self.readonly:
            for mp in ordered:  # before anything is mounted for writing
                windows_volumes.check_writable(g, mountpoints[mp])
        for mp in ordered:
            try:
                g.mount(mountpoints[mp], mp)  # read-only disks: writes go to a discarded overlay
            except RuntimeError as exc:
                if mp == "/":
                    raise MorphError(f"cannot mount the guest root {mountpoints[mp]}: {exc}") from exc
                self.reporter.warn(f"appliance: optional mount {mp} ({mountpoints[mp]}) failed, skipped: {exc}")


def _attempt(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except RuntimeError:
        return None
