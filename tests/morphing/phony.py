"""Phony rpm-family guest trees for the golden tests: /etc, /boot, grub2/BLS and a real rpm database.

The rpm databases are made by the real tools: tiny packages built with ``rpmbuild``, recorded with
Debian's ``rpm --dbpath <tree>/var/lib/rpm --justdb`` (sqlite, as RHEL 9 and Fedora keep it), and
for RHEL 7/8 and SLES 12 turned into a BerkeleyDB hash ``Packages`` with ``db5.3_load`` (the
header blobs are the same in both formats). Everything else is plain text written from a recipe.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MACHINE_ID = "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b"
GRUBENV_SIZE = 1024
# (name, version, release): the packages every phony rpm guest has besides its kernels.
BASE_PACKAGES = (("bash", "5.1.8", "6.el9"), ("systemd", "252", "18.el9"))


@dataclass
class Guest:
    """A recipe for a phony guest tree."""

    os_release: str
    kernels: Sequence[str]
    kernel_package: str = "kernel-core"
    packages: Sequence[tuple[str, str, str]] = ()
    # sqlite | bdb | sysimage (sqlite under /usr/lib/sysimage/rpm) | ndb (SUSE's format, which
    # Debian's rpm cannot write: a placeholder, so the fixer must ask the guest's rpm)
    rpmdb: str = "sqlite"
    uefi_vendor: str | None = None
    bls: bool = True
    cmdline: str = "root=/dev/mapper/rhel-root ro"
    kernelopts_in_grubenv: bool = False
    kernel_cmdline_file: bool = False
    initrd: str = "/boot/initramfs-{kv}.img"
    grub_cfg: str | None = None
    files: dict[str, str] = field(default_factory=dict)


def kernel_package_version(kv: str) -> tuple[str, str]:
    """``5.14.0-362.8.1.el9_3.x86_64`` → (``5.14.0``, ``362.8.1.el9_3``); SUSE ``-default`` kept apart."""
    if kv.endswith("-default"):
        version, _, release = kv.removesuffix("-default").partition("-")
        return version, release + ".1"
    version, _, rest = kv.partition("-")
    return version, rest.removesuffix(".x86_64")


def build_rpm(workdir: Path, name: str, version: str, release: str) -> Path:
    """A tiny binary rpm with no files (cached in ``workdir``)."""
    out = workdir / "RPMS" / "x86_64" / f"{name}-{version}-{release}.x86_64.rpm"
    if out.exists():
        return out
    spec = workdir / f"{name}-{version}-{release}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: phony {name}\nLicense: MIT\n"
        f"BuildArch: x86_64\n%description\nPhony {name} for Coriolis' golden tests.\n%files\n"
    )
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {workdir}", str(spec)],
        check=True,
        capture_output=True,
    )
    return out


def make_rpmdb(dbdir: Path, rpms: Sequence[Path]) -> None:
    """An sqlite rpm database in ``dbdir`` holding the packages (recorded only: --justdb)."""
    dbdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["rpm", "--dbpath", str(dbdir), "--initdb"], check=True, capture_output=True)
    if rpms:
        subprocess.run(
            ["rpm", "--dbpath", str(dbdir), "-i", "--nodeps", "--justdb", "--noscripts", *map(str, rpms)],
            check=True,
            capture_output=True,
        )
    for extra in ("rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock"):
        (dbdir / extra).unlink(missing_ok=True)


def sqlite_to_bdb(dbdir: Path) -> None:
    """Replace ``rpmdb.sqlite`` by a BerkeleyDB hash ``Packages`` with the same header blobs (RHEL 7/8)."""
    connection = sqlite3.connect(dbdir / "rpmdb.sqlite")
    rows = list(connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"))
    connection.close()
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for hnum, blob in rows:
        dump += [" " + struct.pack("<I", hnum).hex(), " " + bytes(blob).hex()]
    dump.append("DATA=END")
    (dbdir / "rpmdb.sqlite").unlink()
    subprocess.run(["db5.3_load", str(dbdir / "Packages")], input="\n".join(dump) + "\n", text=True, check=True)


def write(root: Path, guest_path: str, text: str, mode: int = 0o644) -> None:
    path = root / guest_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def grubenv(values: dict[str, str]) -> str:
    body = "# GRUB Environment Block\n" + "".join(f"{k}={v}\n" for k, v in values.items())
    return body + "#" * (GRUBENV_SIZE - len(body))


def build(root: Path, guest: Guest, rpm_cache: Path) -> None:
    """Write the phony guest described by ``guest`` below ``root``."""
    write(root, "/etc/os-release", guest.os_release)
    write(root, "/etc/machine-id", MACHINE_ID + "\n", 0o444)
    write(root, "/usr/bin/dracut", "#!/bin/sh\n# phony dracut\n", 0o755)
    write(root, "/usr/bin/rpm", "#!/bin/sh\n# phony rpm\n", 0o755)
    options = guest.cmdline
    for kv in guest.kernels:
        write(root, f"/boot/vmlinuz-{kv}", f"phony kernel {kv}\n")
        write(root, guest.initrd.format(kv=kv), f"phony VMware-era initramfs of {kv}\n")
        write(root, f"/lib/modules/{kv}/modules.dep", "")
        if guest.bls:
            opts = "$kernelopts" if guest.kernelopts_in_grubenv else options
            write(
                root,
                f"/boot/loader/entries/{MACHINE_ID}-{kv}.conf",
                f"title Linux ({kv})\nversion {kv}\nlinux /vmlinuz-{kv}\ninitrd /initramfs-{kv}.img\n"
                f"options {opts}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class kernel\n",
            )
    # the rescue kernel has no modules directory: it is not rebuilt
    write(root, f"/boot/vmlinuz-0-rescue-{MACHINE_ID}", "phony rescue kernel\n")
    args = " ".join(a for a in options.split() if not a.startswith(("root=", "ro")))
    write(
        root,
        "/etc/default/grub",
        f"GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
        f'GRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\n'
        f'GRUB_CMDLINE_LINUX="crashkernel=auto {args}"\nGRUB_DISABLE_RECOVERY="true"\n'
        f"GRUB_ENABLE_BLSCFG={'true' if guest.bls else 'false'}\n",
    )
    if guest.kernel_cmdline_file:
        write(root, "/etc/kernel/cmdline", options + "\n")
    grub_dir = f"/boot/efi/EFI/{guest.uefi_vendor}" if guest.uefi_vendor else "/boot/grub2"
    write(root, f"{grub_dir}/grub.cfg", guest.grub_cfg or _grub_cfg(guest))
    env = {"saved_entry": f"{MACHINE_ID}-{guest.kernels[0]}"}
    if guest.kernelopts_in_grubenv:
        env["kernelopts"] = options
    write(root, f"{grub_dir}/grubenv", grubenv(env))
    if guest.uefi_vendor:
        for loader in ("shimx64.efi", "grubx64.efi", "mmx64.efi"):
            write(root, f"{grub_dir}/{loader}", f"phony {loader} of {guest.uefi_vendor}\n", 0o700)
    for path, text in guest.files.items():
        write(root, path, text, 0o600 if path.endswith(".nmconnection") else 0o644)
    rpms = [
        build_rpm(rpm_cache, name, version, release)
        for name, version, release in [
            *BASE_PACKAGES,
            *((guest.kernel_package, *kernel_package_version(kv)) for kv in guest.kernels),
            *guest.packages,
        ]
    ]
    dbdir = root / ("usr/lib/sysimage/rpm" if guest.rpmdb in ("sysimage", "ndb") else "var/lib/rpm")
    if guest.rpmdb == "ndb":
        dbdir.mkdir(parents=True, exist_ok=True)
        (dbdir / "Packages.db").write_bytes(b"RpmP phony ndb database (Debian's rpm cannot write ndb)\n")
    else:
        make_rpmdb(dbdir, rpms)
    if guest.rpmdb in ("sysimage", "ndb"):
        (root / "var/lib").mkdir(parents=True, exist_ok=True)
        (root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    if guest.rpmdb == "bdb":
        sqlite_to_bdb(dbdir)


def _grub_cfg(guest: Guest) -> str:
    if guest.bls:
        return (
            "### BEGIN /etc/grub.d/00_header ###\nset pager=1\nload_env -f ${config_directory}/grubenv\n"
            "### END /etc/grub.d/00_header ###\n### BEGIN /etc/grub.d/10_linux ###\n"
            "insmod part_gpt\ninsmod xfs\nset root='hd0,gpt2'\nblscfg\n### END /etc/grub.d/10_linux ###\n"
        )
    entries = []
    linux = "linuxefi" if guest.uefi_vendor else "linux16"
    initrd = "initrdefi" if guest.uefi_vendor else "initrd16"
    for kv in guest.kernels:
        entries.append(
            f"menuentry 'Linux ({kv})' --class red --class gnu-linux --class gnu --class os {{\n"
            f"\tload_video\n\tinsmod xfs\n\tset root='hd0,msdos1'\n"
            f"\t{linux} /vmlinuz-{kv} {guest.cmdline} crashkernel=auto rhgb quiet LANG=en_US.UTF-8\n"
            f"\t{initrd} /{guest.initrd.format(kv=kv).removeprefix('/boot/')}\n}}\n"
        )
    return "### BEGIN /etc/grub.d/10_linux ###\n" + "".join(entries) + "### END /etc/grub.d/10_linux ###\n"


def copy_expected(src: Path, dst: Path, skip: Sequence[str]) -> None:
    """Copy a morphed tree as a golden expected tree (regeneration helper), minus the skipped folders."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True, ignore=lambda d, names: [n for n in names if _skipped(src, d, n, skip)])


def _skipped(src: Path, directory: str, name: str, skip: Sequence[str]) -> bool:
    rel = (Path(directory) / name).relative_to(src).as_posix()
    return rel.startswith(tuple(skip))
