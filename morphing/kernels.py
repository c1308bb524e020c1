"""The kernels installed in a guest: /boot images with their modules, checked against the rpm database."""

from __future__ import annotations

from collections.abc import Sequence

from morphing.rpmdb import Package
from morphing.tree import GuestTree

# Package names that install a bootable kernel (Red Hat family, Oracle UEK, SUSE flavours).
KERNEL_PACKAGES = frozenset(
    {"kernel", "kernel-core", "kernel-rt-core", "kernel-uek", "kernel-uek-core", "kernel-default", "kernel-preempt"}
)
_MODULE_DIRS = ("/lib/modules", "/usr/lib/modules")


def boot_kernels(tree: GuestTree) -> list[str]:
    """Versions of the kernels in /boot (``vmlinuz-<kv>``) that have a modules directory."""
    found = []
    for path in tree.glob("/boot", "vmlinuz-*"):
        version = path.rsplit("/vmlinuz-", 1)[1]
        if "rescue" in version or version.endswith((".hmac", ".old")):
            continue
        if any(tree.is_dir(f"{base}/{version}") for base in _MODULE_DIRS):
            found.append(version)
    return found


def packaged(version: str, packages: Sequence[Package]) -> bool:
    """Whether a kernel package installed this version (RHEL ``5.14.0-362.8.1.el9_3.x86_64``,
    SUSE ``5.14.21-150500.55.39-default`` from release ``150500.55.39.1``)."""
    for p in packages:
        if p.name not in KERNEL_PACKAGES:
            continue
        if version in (f"{p.version}-{p.release}.{p.arch}", f"{p.version}-{p.release}"):
            return True
        suse_release = p.release.rsplit(".", 1)[0]
        if version.startswith(f"{p.version}-{suse_release}-"):
            return True
    return False


def installed_kernels(tree: GuestTree, packages: Sequence[Package] | None) -> tuple[list[str], list[str]]:
    """The kernels whose initramfs to rebuild, and warnings where /boot and the rpm database disagree.

    Args:
        tree: the guest.
        packages: its rpm database (None when it could not be read: /boot alone decides).
    """
    kernels = boot_kernels(tree)
    warnings: list[str] = []
    if packages is None:
        return kernels, warnings
    for version in kernels:
        if not packaged(version, packages):
            warnings.append(f"drivers: kernel {version} in /boot is not in the rpm database; rebuilding it anyway")
    for p in packages:
        if p.name in KERNEL_PACKAGES and not any(packaged(v, [p]) for v in kernels):
            warnings.append(f"drivers: the rpm database lists {p.nvra} but /boot has no such kernel; skipped")
    return kernels, warnings
