"""The Red Hat-family fixer (RHEL 7/8/9, CentOS, Rocky, AlmaLinux, Oracle Linux, Fedora): one method per concern."""

from __future__ import annotations

import re
from typing import ClassVar

from morphing import bootloader, cloud_init, dracut, selinux, uefi, vmware_tools
from morphing.devices import VANISHING_DEVICE
from morphing.drivers import wanted_drivers
from morphing.errors import MorphError
from morphing.fixers.base import FixContext, Fixer
from morphing.network import IfaceConfig, ifcfg, keyfile, mac_warning, plan_nics, udev
from providers.types import OsInfo, OsType

# os-release IDs; Rocky, Alma, Oracle, CentOS and Fedora are cases of one family, not subclasses.
FAMILY = {"rhel", "centos", "rocky", "almalinux", "ol", "fedora", "scientific", "cloudlinux", "eurolinux"}
INITRAMFS = "/boot/initramfs-{kv}.img"
_GRUBBY = ("/usr/sbin/grubby", "/sbin/grubby")


def major_version(os_info: OsInfo) -> int | None:
    """The major release number (``8`` of ``8.9``), or None when unknown."""
    head = (os_info.version or "").split(".")[0]
    return int(head) if head.isdigit() else None


def merge_configs(*groups: list[IfaceConfig]) -> list[IfaceConfig]:
    """Interfaces from several config systems, the first one seen for a MAC (or a name) winning."""
    merged: list[IfaceConfig] = []
    for config in (c for group in groups for c in group):
        if any((config.mac and c.mac == config.mac) or (not config.mac and c.name == config.name) for c in merged):
            continue
        merged.append(config)
    return merged


class RedHatFixer(Fixer):
    """rpm, dracut, grub2 (BIOS, UEFI, BLS), network-scripts and NetworkManager, SELinux."""

    name = "redhat"
    concerns: ClassVar[tuple[str, ...]] = (
        "guest_tools",
        "packages",
        "network",
        "cloud_init",
        "hostname",
        "bootloader",
        "drivers",
        "selinux",
    )
    kept_static = False
    devices_renamed = True  # the bootloader concern renamed a device (or did not run): initramfs rebuilt in any case

    def __init__(self, ctx: FixContext) -> None:
        super().__init__(ctx)
        major = major_version(ctx.os_info)
        if ctx.os_info.distribution != "fedora" and major is not None and major < 7:
            raise MorphError(
                f"{ctx.os_info.product_name or f'{ctx.os_info.distribution} {ctx.os_info.version}'} is not supported "
                "(Red Hat family releases before 7 boot with GRUB legacy and upstart)"
            )

    @classmethod
    def matches(cls, os_info: OsInfo) -> bool:
        return os_info.os_type == OsType.LINUX and (os_info.distribution or "") in FAMILY

    def guest_tools(self) -> None:
        """Erase open-vm-tools / vmware-tools-* with the guest's rpm, or run the tarball uninstaller."""
        if self.ctx.options.remove_guest_tools:
            vmware_tools.remove_rpm_tools(self.tree, self.ctx.runner, self.log)

    def _default_network(self) -> str:
        """What a guest with no ethernet config yet uses: keyfiles from RHEL 9 and Fedora 33 on."""
        major = major_version(self.ctx.os_info) or 0
        newer = major >= 33 if self.ctx.os_info.distribution == "fedora" else major >= 9
        return "keyfile" if newer or not ifcfg.installed(self.tree) else "ifcfg"

    def packages(self) -> None:
        """Extra packages need the guest's repositories and a network the morph does not have here: refused aloud."""
        if self.ctx.options.extra_packages:
            self.log.warn(
                "packages: installing packages is not supported for the Red Hat family yet; not installed: "
                + ", ".join(self.ctx.options.extra_packages)
            )

    def network(self) -> None:
        """Rewrite network-scripts and/or NetworkManager keyfiles for the destination NICs, matched by MAC."""
        modules = {"ifcfg": ifcfg, "keyfile": keyfile}
        in_use = [name for name, module in modules.items() if module.in_use(self.tree)] or [self._default_network()]
        found = merge_configs(*(modules[name].read(self.tree) for name in in_use))
        if not self.ctx.vm.nics:
            self.log.warn("network: the VM has no known NICs; writing DHCP for any ethernet NIC")
        plans = plan_nics(found, self.ctx.vm.nics, self.ctx.options.preserve_static_ips)
        self.kept_static = any(p.config.static for p in plans)
        for name in in_use:
            for change in modules[name].write(self.tree, plans):
                self.log.record(change)
        for change in udev.rewrite(self.tree, plans):
            self.log.record(change)
        warning = mac_warning(plans, self.ctx.target.keeps_macs)
        if warning:
            self.log.warn(warning)

    def cloud_init(self) -> None:
        """Point cloud-init at the destination's datasources; drop VMware customization."""
        if cloud_init.installed(self.tree):
            for change in cloud_init.configure(self.tree, self.ctx.target.cloud_init_datasources, self.kept_static):
                self.log.record(change)

    def hostname(self) -> None:
        """Set the hostname the user asked for (/etc/hostname, read by systemd)."""
        name = self.ctx.options.hostname
        if name and self.tree.read("/etc/hostname") != name + "\n":
            self.tree.write("/etc/hostname", name + "\n", mode=0o644)
            self.log.record(f"hostname: set to {name}")

    def bootloader(self) -> None:
        """fstab, grub2 configs, BLS entries and kernel command lines by UUID; a UEFI fallback loader."""
        before = len(self.log.changes)
        bootloader.fix_fstab(self.tree, self.ctx.devices, self.log)
        bootloader.fix_kernel_args(self.tree, self.ctx.devices, self.log, bootloader.grub_files(self.tree))
        self.devices_renamed = len(self.log.changes) != before
        for change in uefi.ensure_fallback(self.tree):
            self.log.record(change)
        self._check_with_grubby()

    def _check_with_grubby(self) -> None:
        """Ask the guest's grubby what the default entry boots (it reads BLS entries, grubenv and grub.cfg
        as the bootloader will): a root or resume device that vanishes there is worth a warning."""
        if not any(self.tree.exists(path) for path in _GRUBBY):
            return
        try:
            info = self.ctx.runner.run(["grubby", "--info=DEFAULT"])
        except MorphError as exc:
            self.log.warn(f"bootloader: grubby could not read the default boot entry: {exc}")
            return
        for name in sorted(set(re.findall(r"(?:root=\"?|resume=)(/dev/[^\s\"']+)", info))):
            if VANISHING_DEVICE.fullmatch(name):
                self.log.warn(f"bootloader: grubby says the default entry still names {name}, which vanishes")

    def drivers(self) -> None:
        """Rebuild every installed kernel's initramfs with the destination's drivers (dracut), and keep them."""
        dracut.add_drivers(
            self.tree, self.ctx.runner, self.log, wanted_drivers(self.ctx.target), INITRAMFS, self.devices_renamed
        )

    def selinux(self) -> None:
        """Files were written offline without SELinux labels: relabel at first boot when SELinux is on."""
        selinux.schedule_relabel(self.tree, self.log)
