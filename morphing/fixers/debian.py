"""The Debian-family fixer (Debian, Ubuntu and their derivatives): one method per concern."""

from __future__ import annotations

import re
from typing import ClassVar

from morphing import bootloader, cloud_init, uefi, vmware_tools
from morphing.drivers import wanted_drivers
from morphing.errors import MorphError
from morphing.fixers.base import Fixer
from morphing.initrd import initrd_lacks
from morphing.kernels import boot_kernels
from morphing.network import mac_warning, plan_nics
from morphing.network.systems import SYSTEMS, detect_system
from morphing.tree import GuestTree
from providers.types import OsInfo, OsType

FAMILY = {"debian", "ubuntu", "linuxmint", "pop", "kali", "raspbian", "devuan", "elementary", "zorin"}
DPKG_STATUS = "/var/lib/dpkg/status"
MODULES_FILE = "/etc/initramfs-tools/modules"
INITRD = "/boot/initrd.img-{kv}"
_CONF = "/etc/initramfs-tools/initramfs.conf"
_CONF_DIR = "/etc/initramfs-tools/conf.d"
# The compression level of the initrds rebuilt here when the guest's config names none (its own
# setting wins: mkinitramfs reads COMPRESSLEVEL from the environment only when no config file sets
# it). Debian 12 compresses with zstd -9 by default, a sixth of a rebuild's time under TCG; the
# kernel reads any level, and the guest's next kernel update compresses at its own level again.
_FAST = ("env", "COMPRESSLEVEL=1")
_POLICY = "/usr/sbin/policy-rc.d"
_GRUB_CFGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")


def installed_packages(tree: GuestTree) -> set[str]:
    """Names of the packages dpkg lists as installed (read offline from its status file)."""
    names: set[str] = set()
    for stanza in (tree.read(DPKG_STATUS) or "").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.MULTILINE))
        if "Package" in fields and fields.get("Status", "").endswith(" installed"):
            names.add(fields["Package"])
    return names


class DebianFixer(Fixer):
    """Debian and Ubuntu: dpkg, initramfs-tools, GRUB, and whichever network system is in use."""

    name = "debian"
    concerns: ClassVar[tuple[str, ...]] = (
        "guest_tools",
        "packages",
        "network",
        "cloud_init",
        "hostname",
        "bootloader",
        "drivers",
    )
    kept_static = False
    initrd_settings_changed = False  # a setting the initrd carries was changed: rebuild it in any case

    @classmethod
    def matches(cls, os_info: OsInfo) -> bool:
        return os_info.os_type == OsType.LINUX and (os_info.distribution or "") in FAMILY

    def _with_policy(self, args: list[str]) -> None:
        """Run a package command with services kept from starting (policy-rc.d) in the guest."""
        created = not self.tree.exists(_POLICY)
        if created:
            self.tree.write(_POLICY, "#!/bin/sh\n# Coriolis: no services start while morphing.\nexit 101\n", 0o755)
        try:
            self.ctx.runner.run(args)
        finally:
            if created:
                self.tree.remove(_POLICY)

    def guest_tools(self) -> None:
        """Purge open-vm-tools (and VMware Tools leftovers): no use off VMware."""
        if not self.ctx.options.remove_guest_tools:
            return
        packages = sorted(p for p in installed_packages(self.tree) if vmware_tools.PACKAGE.fullmatch(p))
        if packages:
            self._with_policy(["dpkg", "--purge", *packages])
            self.log.record(f"guest tools: purged {', '.join(packages)}")
        vmware_tools.remove_leftovers(self.tree, self.log)

    def packages(self) -> None:
        """Extra packages are never installed: the appliance has no network (MorphOptions refuses them)."""
        if self.ctx.options.extra_packages:
            raise MorphError("extra_packages cannot be installed: the morphing appliance has no network")

    def network(self) -> None:
        """Rewrite the guest's network config for the destination NICs, matched by MAC."""
        system = detect_system(self.tree)
        module = SYSTEMS[system]
        found = module.read(self.tree)
        if not self.ctx.vm.nics:
            self.log.warn("network: the VM has no known NICs; writing DHCP for any ethernet NIC")
        plans = plan_nics(found, self.ctx.vm.nics, self.ctx.options.preserve_static_ips)
        self.kept_static = any(p.config.static for p in plans)
        for change in module.write(self.tree, plans):
            self.log.record(change)
        warning = mac_warning(plans, self.ctx.target.keeps_macs)
        if warning:
            self.log.warn(warning)

    def cloud_init(self) -> None:
        """Point cloud-init at the destination's datasources; drop VMware customization."""
        if not cloud_init.installed(self.tree):
            return
        for change in cloud_init.configure(self.tree, self.ctx.target.cloud_init_datasources, self.kept_static):
            self.log.record(change)

    def hostname(self) -> None:
        """Set the hostname the user asked for (/etc/hostname and the 127.0.1.1 line of /etc/hosts)."""
        name = self.ctx.options.hostname
        if not name:
            return
        self.tree.write("/etc/hostname", name + "\n")
        hosts = self.tree.read("/etc/hosts") or "127.0.0.1\tlocalhost\n"
        line = f"127.0.1.1\t{name}"
        if re.search(r"^127\.0\.1\.1\s.*$", hosts, re.MULTILINE):
            hosts = re.sub(r"^127\.0\.1\.1\s.*$", line, hosts, count=1, flags=re.MULTILINE)
        else:
            hosts = hosts.rstrip("\n") + "\n" + line + "\n"
        self.tree.write("/etc/hosts", hosts)
        self.log.record(f"hostname: set to {name}")

    def bootloader(self) -> None:
        """fstab, GRUB and the resume device by UUID instead of the source's vanishing device names."""
        devices = self.ctx.devices
        bootloader.fix_fstab(self.tree, devices, self.log)
        resume = "/etc/initramfs-tools/conf.d/resume"
        old = self.tree.read(resume)
        if old is not None:
            new, changes = bootloader.rewrite_resume_conf(old, devices, resume)
            bootloader.save(self.tree, self.log, resume, old, new, changes)
            self.initrd_settings_changed = self.initrd_settings_changed or new != old
        bootloader.fix_kernel_args(self.tree, devices, self.log, ("/etc/default/grub", *_GRUB_CFGS))
        self._regenerate_grub()
        for change in uefi.ensure_fallback(self.tree):
            self.log.record(change)

    def _regenerate_grub(self) -> None:
        """Rerun grub-mkconfig when it wrote grub.cfg; keep the edited file if that fails."""
        cfg = _GRUB_CFGS[0]
        text = self.tree.read(cfg)
        if (
            text is None
            or not bootloader.is_generated_grub_cfg(text)
            or not self.tree.exists("/usr/sbin/grub-mkconfig")
        ):
            return
        new = cfg + ".coriolis-new"
        try:
            self.ctx.runner.run(["grub-mkconfig", "-o", new])
        except Exception as exc:  # noqa: BLE001 - the in-place edit above is the fallback
            self.log.warn(f"bootloader: grub-mkconfig failed, keeping the edited {cfg}: {exc}")
            self.tree.remove(new)
            return
        generated = self.tree.read(new) or ""
        if "/dev/loop" in generated or "linux" not in generated:
            self.log.warn(f"bootloader: grub-mkconfig output unusable here, keeping the edited {cfg}")
            self.tree.remove(new)
            return
        self.tree.rename(new, cfg)
        self.log.record(f"bootloader: regenerated {cfg} with grub-mkconfig")

    def drivers(self) -> None:
        """Add the destination's disk and NIC drivers to the initrd of every kernel whose initrd lacks them.

        Every installed kernel stays bootable on the destination (GRUB's older entries are an
        operator's fallback), but an initrd that already holds the drivers (``MODULES=most``, the
        Debian default) is left as it is unless this morph changed a setting it carries (the
        resume device). The drivers are also listed in the modules file for later kernels.
        """
        wanted = wanted_drivers(self.ctx.target)
        text = self.tree.read(MODULES_FILE) or ""
        present = {line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")}
        missing = [m for m in wanted if m not in present]
        if missing:
            if text and not text.endswith("\n"):
                text += "\n"
            text += "# Added by Coriolis: drivers for the destination hypervisor.\n" + "".join(
                f"{m}\n" for m in missing
            )
            self.tree.write(MODULES_FILE, text)
            self.log.record(f"drivers: added {' '.join(missing)} to {MODULES_FILE}")
        if not self.tree.exists("/usr/sbin/update-initramfs"):
            self.log.warn("drivers: initramfs-tools not found in the guest; initrd not rebuilt")
            return
        versions = [kv for kv in boot_kernels(self.tree) if self.tree.is_file(INITRD.format(kv=kv))]
        if not versions:  # an unusual /boot layout: let update-initramfs find its kernels itself
            self.ctx.runner.run([*_FAST, "update-initramfs", "-u", "-k", "all"])
            self.log.record("drivers: rebuilt the initrd (update-initramfs -u -k all)")
            return
        # MODULES=list or dep with drivers the modules file did not name: the initrd cannot hold them
        # (listing it would only cost time); MODULES=most holds every storage and NIC driver
        worth_listing = not self.initrd_settings_changed and (modules_policy(self.tree) == "most" or not missing)
        for kv in versions:
            lacking = self._initrd_lacks(kv, wanted) if worth_listing else None
            if lacking == []:
                self.log.record(f"drivers: {INITRD.format(kv=kv)} already holds {' '.join(wanted)}; not rebuilt")
                continue
            self.ctx.runner.run([*_FAST, "update-initramfs", "-u", "-k", kv])
            self.log.record(f"drivers: rebuilt {INITRD.format(kv=kv)} (update-initramfs -u -k {kv})")

    def _initrd_lacks(self, version: str, wanted: list[str]) -> list[str] | None:
        if not self.tree.exists("/usr/bin/lsinitramfs"):
            return None
        return initrd_lacks(self.tree, self.ctx.runner, ["lsinitramfs"], INITRD.format(kv=version), version, wanted)


def modules_policy(tree: GuestTree) -> str:
    """initramfs-tools' ``MODULES`` setting: initramfs.conf, then conf.d in order, the last one wins."""
    policy = "most"
    files = [_CONF, *sorted(tree.glob(_CONF_DIR, "*"))]
    for path in files:
        for match in re.finditer(r"^\s*MODULES=[\"']?(\w+)", tree.read(path) or "", re.MULTILINE):
            policy = match.group(1)
    return policy
