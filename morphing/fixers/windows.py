"""The Windows fixer: offline conversion as virt-v2v does it (hive edits, drivers copied, first boot).

Everything is checked before the first write (supported version, virtio-win present and holding a
build for this version, the first-boot wrapper), so a refused guest's disk is left untouched. The
boot storage driver is registered in the SYSTEM hive so Windows can start from the new disk bus;
the other drivers, the tools removal, the static addresses and cloudbase-init are first-boot
scripts, since only a running Windows can do them properly.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

from morphing.errors import MorphError
from morphing.fixers.base import FixContext, Fixer
from morphing.registry import Hive, RegValue
from morphing.windows import firstboot as fb
from morphing.windows.facts import WindowsFacts, read_facts, read_system
from morphing.windows.paths import resolve
from morphing.windows.virtio_win import DriverFile, VirtioWin
from providers.types import OsInfo, OsType

SYSTEM_HIVE = "/Windows/System32/config/SYSTEM"
SOFTWARE_HIVE = "/Windows/System32/config/SOFTWARE"
DRIVER_DIR = "/Windows/Drivers/VirtIO"
SCSI_CLASS = "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
# PCI ids of the virtio storage controllers: transitional (legacy) and modern devices
PCI_IDS = {
    "viostor": ("VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00", "VEN_1AF4&DEV_1001&REV_00", "VEN_1AF4&DEV_1042&REV_01"),
    "vioscsi": ("VEN_1AF4&DEV_1004&SUBSYS_00081AF4&REV_00", "VEN_1AF4&DEV_1004&REV_00", "VEN_1AF4&DEV_1048&REV_01"),
}
# TargetProfile.disk_bus -> the virtio-win boot driver; buses whose driver is in-box need none
BOOT_DRIVERS = {"virtio": "viostor", "virtio-blk": "viostor", "virtio-scsi": "vioscsi", "scsi": "vioscsi",
                "gce": "vioscsi"}  # Compute Engine: virtio-scsi (its NVMe driver is in-box)
IN_BOX_BUSES = {"hyperv", "ide", "sata", "nvme"}
_WRAPPERS = ("rhsrvany.exe", "pvvxsvc.exe")


def driver_database_edits(drv: str, pci_ids: tuple[str, ...], arch: str) -> list[tuple[list[str], dict[str, RegValue]]]:
    """DriverDatabase entries (Windows 8 and later) that bind the PCI ids to the boot driver's service."""
    inf = f"coriolis-{drv}.inf"
    label = f"{inf}_{arch}_0000000000000000"
    config = f"coriolis_{drv}_conf"
    # driver package version: a header, the storage class GUID, then zeros (what PnP checks on 10/2016+)
    version = b"\x00\xff\x09\x00\x00\x00\x00\x00" + uuid.UUID(SCSI_CLASS).bytes_le + bytes(24)
    edits: list[tuple[list[str], dict[str, RegValue]]] = [
        (
            ["DriverDatabase", "DriverInfFiles", inf],
            {
                "": RegValue.multi_sz([label]),
                "Active": RegValue.sz(label),
                "Configurations": RegValue.multi_sz([config]),
            },
        ),
        (["DriverDatabase", "DriverPackages", label], {"Version": RegValue.binary(version)}),
        (
            ["DriverDatabase", "DriverPackages", label, "Configurations", config],
            {"ConfigFlags": RegValue.dword(0), "Service": RegValue.sz(drv)},
        ),
    ]
    for pci in pci_ids:
        edits.append((["DriverDatabase", "DeviceIds", "PCI", pci], {inf: RegValue.binary(b"\x01\xff\x00\x00")}))
        edits.append(
            (
                ["DriverDatabase", "DriverPackages", label, "Descriptors", "PCI", pci],
                {"Configuration": RegValue.sz(config)},
            )
        )
    return edits


def critical_device_edits(cs: str, drv: str, pci_ids: tuple[str, ...]) -> list[tuple[list[str], dict[str, RegValue]]]:
    """CriticalDeviceDatabase entries, for a SYSTEM hive without a DriverDatabase."""
    return [
        (
            [cs, "Control", "CriticalDeviceDatabase", f"PCI#{pci}"],
            {"Service": RegValue.sz(drv), "ClassGUID": RegValue.sz(SCSI_CLASS)},
        )
        for pci in pci_ids
    ]


def service_edits(cs: str, drv: str) -> list[tuple[list[str], dict[str, RegValue]]]:
    """The boot driver's service: kernel driver, boot start, in the SCSI miniport group."""
    return [
        (
            [cs, "Services", drv],
            {
                "Type": RegValue.dword(1),
                "Start": RegValue.dword(0),
                "ErrorControl": RegValue.dword(1),
                "Group": RegValue.sz("SCSI miniport"),
                "ImagePath": RegValue.expand_sz(f"system32\\drivers\\{drv}.sys"),
            },
        )
    ]


class WindowsFixer(Fixer):
    """Windows Server 2012 R2 to 2025 and Windows 10/11: VirtIO boot driver, first-boot service."""

    name = "windows"
    concerns: ClassVar[tuple[str, ...]] = ("preflight", "drivers", "guest_tools", "network", "cloud_init", "firstboot")

    def __init__(self, ctx: FixContext) -> None:
        super().__init__(ctx)
        self.facts: WindowsFacts | None = None
        self.boot_driver: str | None = None
        self.drivers_found: list[DriverFile] = []
        self.qemu_ga: DriverFile | None = None
        self.wrapper: Path | None = None
        self.queue = fb.FirstBoot()
        self.system_hive = resolve(self.tree, SYSTEM_HIVE)
        self.software_hive = resolve(self.tree, SOFTWARE_HIVE)

    @classmethod
    def matches(cls, os_info: OsInfo) -> bool:
        return os_info.os_type == OsType.WINDOWS

    def _hive_error(self, path: str, exc: Exception) -> MorphError:
        return MorphError(f"cannot read the registry hive {path}: {exc}")

    # -- everything that can refuse the guest, before any write --------------------------------
    def preflight(self) -> None:
        """Read the registry facts; refuse an unsupported version or a missing operator toolkit."""
        try:
            with self.tree.open_hive(self.system_hive) as system:
                found = read_system(Hive(system), self.ctx.os_info.architecture)
        except OSError as exc:
            raise self._hive_error(self.system_hive, exc) from exc
        try:
            with self.tree.open_hive(self.software_hive) as software:
                facts = read_facts(found, Hive(software))
        except OSError as exc:
            raise self._hive_error(self.software_hive, exc) from exc
        tag = facts.version_tag  # raises for unsupported versions
        self.facts = facts
        self.log.reporter.info(
            f"windows: {facts.product_name} {facts.major}.{facts.minor} build {facts.build} "
            f"({'server' if facts.server else 'client'}{', ' + facts.edition if facts.edition else ''}), "
            f"{facts.arch}, control set {facts.control_set}; tools: "
            f"{', '.join(t.name for t in facts.tools) or 'none'}; "
            f"static adapters: {sum(a.static for a in facts.adapters)}"
        )
        bus = self.ctx.target.disk_bus
        self.boot_driver = BOOT_DRIVERS.get(bus)
        if self.boot_driver is None and bus not in IN_BOX_BUSES:
            raise MorphError(f"windows: no driver source for the destination's disk bus {bus!r}")
        if self.boot_driver is not None:
            self._find_drivers(tag, facts.virtio_arch)
        self._find_wrapper()

    def _find_drivers(self, tag: str, arch: str) -> None:
        path = self.ctx.toolkit.virtio_win
        if not path:
            raise MorphError("windows: virtio_win is not set: the operator must provide the virtio-win ISO or tree")
        with VirtioWin(Path(path)) as vw:
            self.drivers_found = vw.drivers_for(tag, arch)
            self.qemu_ga = vw.qemu_ga(arch)
        names = {f.name for f in self.drivers_found}
        if f"{self.boot_driver}.sys" not in names:
            raise MorphError(
                f"windows: virtio-win at {path} has no {self.boot_driver} driver for {tag}/{arch}; "
                "the guest could not boot from its disk"
            )

    def _find_wrapper(self) -> None:
        configured = self.ctx.toolkit.firstboot_service
        candidates = [Path(configured)] if configured else []
        for candidate in candidates:
            if candidate.is_dir():
                candidate = next((candidate / w for w in _WRAPPERS if (candidate / w).is_file()), candidate)
            if candidate.is_file():
                self.wrapper = candidate
                return
        raise MorphError(
            "windows: firstboot_service must name rhsrvany.exe or pvvxsvc.exe (or a directory holding one): "
            "the first-boot service runs the steps only Windows can do"
        )

    # -- changes -------------------------------------------------------------------------------
    def drivers(self) -> None:
        """Copy the driver set in; register the boot storage driver so Windows starts from it."""
        assert self.facts is not None
        if self.boot_driver is None:
            self.log.record(f"drivers: the destination's {self.ctx.target.disk_bus} storage driver is in-box")
            return
        driver_dir = resolve(self.tree, DRIVER_DIR)
        self.tree.mkdir(driver_dir)
        with VirtioWin(Path(self.ctx.toolkit.virtio_win or "")) as vw:
            for item in self.drivers_found:
                self.tree.write_bytes(f"{driver_dir}/{item.name}", vw.read(item.source))
            boot_sys = next(f for f in self.drivers_found if f.name == f"{self.boot_driver}.sys")
            target = resolve(self.tree, f"/Windows/System32/drivers/{boot_sys.name}")
            self.tree.write_bytes(target, vw.read(boot_sys.source))
            if self.qemu_ga is not None:
                self.tree.write_bytes(f"{self._home()}/{self.qemu_ga.name}", vw.read(self.qemu_ga.source))
        self.log.record(f"drivers: copied {len(self.drivers_found)} virtio-win files to {driver_dir}")
        self._register_boot_driver()
        self.queue.add("install-drivers.cmd", fb.install_drivers_script(self.facts.major))
        if self.qemu_ga is not None:
            self.queue.add("install-qemu-ga.cmd", fb.msi_install_script(f"{fb.HOME_WIN}\\{self.qemu_ga.name}"))
            self.log.record("drivers: QEMU guest agent staged for the first boot")

    def _register_boot_driver(self) -> None:
        assert self.facts is not None and self.boot_driver is not None
        cs, drv = self.facts.control_set, self.boot_driver
        pci_ids = PCI_IDS[drv]
        with self.tree.open_hive(self.system_hive, write=True) as handle:
            system = Hive(handle)
            edits = service_edits(cs, drv)
            if system.exists("DriverDatabase"):
                edits += driver_database_edits(drv, pci_ids, self.facts.virtio_arch)
                where = "DriverDatabase"
            else:
                edits += critical_device_edits(cs, drv, pci_ids)
                where = "CriticalDeviceDatabase"
            system.apply(edits)
            system.commit()
        self.log.record(f"drivers: {drv} registered as a boot-start service ({cs}, {where})")

    def guest_tools(self) -> None:
        """Queue the silent uninstall of the source hypervisor's tools."""
        assert self.facts is not None
        if not self.ctx.options.remove_guest_tools:
            return
        for tools in self.facts.tools:
            if not tools.uninstall:
                self.log.warn(f"guest tools: {tools.name} has no uninstall command; left installed")
                continue
            self.queue.add(f"uninstall-{tools.kind}.cmd", fb.uninstall_script(tools.name, tools.uninstall))
            self.log.record(f"guest tools: {tools.name} will be uninstalled at first boot")

    def network(self) -> None:
        """Replay static addresses onto the adapters with the source MACs, at first boot."""
        assert self.facts is not None
        statics = [a for a in self.facts.adapters if a.static]
        if not statics:
            return
        if not self.ctx.options.preserve_static_ips:
            self.log.record(f"network: {len(statics)} static adapter(s) will use DHCP (preserve_static_ips is off)")
            return
        nic_macs = [n.mac_address.lower() for n in self.ctx.vm.nics if n.mac_address]
        assignments = []
        for position, adapter in enumerate(statics):
            mac = adapter.mac
            if mac is None and len(statics) == len(nic_macs):
                mac = nic_macs[position]
                if len(statics) > 1:
                    self.log.warn(f"network: {adapter.guid} matched to MAC {mac} by adapter order")
            if mac is None:
                self.log.warn(f"network: no MAC known for adapter {adapter.guid}; its static address is not replayed")
                continue
            try:
                addresses = [(a, fb.prefix_length(m)) for a, m in zip(adapter.addresses, adapter.masks, strict=False)]
            except ValueError:
                self.log.warn(f"network: adapter {adapter.guid} has an invalid subnet mask; not replayed")
                continue
            assignments.append((mac, addresses, list(adapter.gateways), list(adapter.dns)))
            self.log.record(f"network: {', '.join(adapter.addresses)} will be set on the adapter with MAC {mac}")
        if assignments:
            self.queue.add("static-ip.ps1", fb.static_ip_script(assignments))

    def cloud_init(self) -> None:
        """Install cloudbase-init at first boot when the destination has a metadata service."""
        wanted = [d for d in self.ctx.target.cloud_init_datasources if d in fb.METADATA_SERVICES and d != "NoCloud"]
        if not wanted:
            return
        msi = self.ctx.toolkit.cloudbase_init
        if not msi or not Path(msi).is_file():
            self.log.warn(
                "cloud_init: the destination has a metadata service but cloudbase_init_msi is not set; "
                "the guest will not read its metadata"
            )
            return
        home = self._home()
        self.tree.upload(Path(msi), f"{home}/CloudbaseInitSetup.msi")
        self.tree.write(f"{home}/cloudbase-init.conf", fb.cloudbase_init_conf(wanted))
        installer = fb.msi_install_script(
            f"{fb.HOME_WIN}\\CloudbaseInitSetup.msi",
            "RUN_SERVICE_AS_LOCAL_SYSTEM=1",
            then=f'copy /y "{fb.HOME_WIN}\\cloudbase-init.conf" "{fb.CLOUDBASE_CONF_WIN}\\cloudbase-init.conf"',
        )
        self.queue.add("install-cloudbase-init.cmd", installer)
        self.log.record(f"cloud_init: cloudbase-init staged with metadata services {', '.join(wanted)}")

    def firstboot(self) -> None:
        """Write the queued scripts, the runner and the wrapper, and register the service."""
        assert self.facts is not None and self.wrapper is not None
        if not self.queue.scripts:
            return
        home = self._home()
        self.tree.mkdir(f"{home}/scripts")
        for name, body in self.queue.scripts:
            self.tree.write(f"{home}/scripts/{name}", body)
        self.tree.write(f"{home}/firstboot.cmd", fb.runner_script())
        self.tree.upload(self.wrapper, f"{home}/{self.wrapper.name.lower()}")
        with self.tree.open_hive(self.system_hive, write=True) as handle:
            system = Hive(handle)
            system.apply(fb.service_edits(self.facts.control_set, self.wrapper.name.lower()))
            system.commit()
        names = ", ".join(name for name, _ in self.queue.scripts)
        self.log.record(f"firstboot: service {fb.SERVICE} runs {names}; log in {fb.LOG_WIN}")

    def _home(self) -> str:
        home = resolve(self.tree, fb.HOME_GUEST)
        self.tree.mkdir(home)
        return home
