"""The SUSE-family fixer (SLES/SLED 12 and 15, openSUSE Leap and Tumbleweed): one method per concern."""

from __future__ import annotations

from typing import ClassVar

from morphing import bootloader, cloud_init, dracut, selinux, uefi, vmware_tools
from morphing.drivers import wanted_drivers
from morphing.errors import MorphError
from morphing.fixers.base import FixContext, Fixer
from morphing.network import mac_warning, plan_nics, udev, wicked
from providers.types import OsInfo, OsType

FAMILY = {"sles", "sled", "sles_sap", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "opensuse-slowroll"}
INITRD = "/boot/initrd-{kv}"


class SuseFixer(Fixer):
    """rpm, dracut, grub2 (btrfs snapshots untouched), wicked with udev name rules."""

    name = "suse"
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
        head = (ctx.os_info.version or "").split(".")[0]
        if ctx.os_info.distribution in ("sles", "sled", "sles_sap") and head.isdigit() and int(head) < 12:
            raise MorphError(
                f"{ctx.os_info.product_name or f'SLES {ctx.os_info.version}'} is not supported: SUSE Linux "
                "Enterprise 11 and older build their initrd with mkinitrd, which Coriolis does not drive"
            )

    @classmethod
    def matches(cls, os_info: OsInfo) -> bool:
        return os_info.os_type == OsType.LINUX and (os_info.distribution or "") in FAMILY

    def guest_tools(self) -> None:
        """Erase open-vm-tools / vmware-tools-* with the guest's rpm (no zypper: no repositories needed)."""
        if self.ctx.options.remove_guest_tools:
            vmware_tools.remove_rpm_tools(self.tree, self.ctx.runner, self.log)

    def packages(self) -> None:
        """Extra packages need the guest's repositories and a network the morph does not have here: refused aloud."""
        if self.ctx.options.extra_packages:
            self.log.warn(
                "packages: installing packages is not supported for the SUSE family yet; not installed: "
                + ", ".join(self.ctx.options.extra_packages)
            )

    def network(self) -> None:
        """Rewrite wicked's ifcfg files for the destination NICs, names bound to the MACs by udev rules."""
        found = wicked.read(self.tree)
        if not self.ctx.vm.nics:
            self.log.warn("network: the VM has no known NICs; writing DHCP for any ethernet NIC")
        plans = plan_nics(found, self.ctx.vm.nics, self.ctx.options.preserve_static_ips)
        self.kept_static = any(p.config.static for p in plans)
        for change in wicked.write(self.tree, plans):
            self.log.record(change)
        for change in udev.rewrite(self.tree, plans, always=True):
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
        """Set the hostname the user asked for (/etc/hostname; /etc/HOSTNAME too where SLES 12 keeps it)."""
        name = self.ctx.options.hostname
        if not name:
            return
        for path in ("/etc/hostname", "/etc/HOSTNAME"):
            if (path == "/etc/hostname" or self.tree.exists(path)) and self.tree.read(path) != name + "\n":
                self.tree.write(path, name + "\n", mode=0o644)
                self.log.record(f"hostname: set to {name} in {path}")

    def bootloader(self) -> None:
        """fstab and grub2 by UUID (``rootflags=subvol=`` and btrfs subvolume mounts kept); UEFI fallback."""
        before = len(self.log.changes)
        bootloader.fix_fstab(self.tree, self.ctx.devices, self.log)
        files = [*bootloader.grub_files(self.tree), "/etc/sysconfig/bootloader"]
        bootloader.fix_kernel_args(self.tree, self.ctx.devices, self.log, files)
        self.devices_renamed = len(self.log.changes) != before
        for change in uefi.ensure_fallback(self.tree):
            self.log.record(change)

    def drivers(self) -> None:
        """Rebuild every installed kernel's initramfs with the destination's drivers (dracut), and keep them."""
        dracut.add_drivers(
            self.tree, self.ctx.runner, self.log, wanted_drivers(self.ctx.target), INITRD, self.devices_renamed
        )

    def selinux(self) -> None:
        """Relabel at first boot where SELinux is on (openSUSE Tumbleweed and SLE 16 default to it)."""
        selinux.schedule_relabel(self.tree, self.log)
