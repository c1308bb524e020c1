"""Offline OS detection in a guest tree: os-release and friends, or Windows by its registry files."""

from __future__ import annotations

import re
import shlex
import struct
from pathlib import Path, PurePosixPath

from morphing.tree import GuestTree, LocalTree
from providers.types import OsInfo, OsType

_ELF_MACHINES = {0x03: "i386", 0x3E: "x86_64", 0xB7: "aarch64", 0x28: "arm", 0xF3: "riscv64", 0x15: "ppc64"}
_PE_MACHINES = {0x14C: "i386", 0x8664: "x86_64", 0xAA64: "aarch64"}
_REDHAT_NAMES = (
    ("red hat", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("alma", "almalinux"),
    ("oracle", "ol"),
    ("fedora", "fedora"),
)


def parse_shell_vars(text: str) -> dict[str, str]:
    """KEY=value lines as in os-release and lsb-release (quotes removed, comments skipped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        values[key.strip()] = " ".join(words)
    return values


def detect_os(root: GuestTree | Path) -> OsInfo:
    """What OS a guest tree holds; ``OsType.UNKNOWN`` when none is recognised.

    Args:
        root: the guest's tree (or a plain directory holding one).
    """
    tree = LocalTree(root) if isinstance(root, Path) else root
    windows = _find_windows(tree)
    if windows is not None:
        return _detect_windows(tree, windows)
    info = _detect_linux(tree)
    if info is None:
        return OsInfo()
    return info


def _detect_linux(tree: GuestTree) -> OsInfo | None:
    arch = _elf_arch(tree)
    os_release = tree.read("/etc/os-release") or tree.read("/usr/lib/os-release")
    if os_release:
        v = parse_shell_vars(os_release)
        dist = v.get("ID", "linux").lower()
        version = v.get("VERSION_ID") or _debian_version(tree)
        return OsInfo(OsType.LINUX, dist, version, v.get("PRETTY_NAME") or v.get("NAME"), arch)
    lsb = tree.read("/etc/lsb-release")
    if lsb and "DISTRIB_ID" in lsb:
        v = parse_shell_vars(lsb)
        return OsInfo(
            OsType.LINUX,
            v["DISTRIB_ID"].lower(),
            v.get("DISTRIB_RELEASE"),
            v.get("DISTRIB_DESCRIPTION"),
            arch,
        )
    redhat = tree.read("/etc/redhat-release") or tree.read("/etc/centos-release")
    if redhat:
        line = redhat.strip().splitlines()[0] if redhat.strip() else ""
        lower = line.lower()
        dist = next((ident for needle, ident in _REDHAT_NAMES if needle in lower), "rhel")
        match = re.search(r"release\s+([0-9][0-9.]*)", line)
        return OsInfo(OsType.LINUX, dist, match.group(1) if match else None, line or None, arch)
    suse = tree.read("/etc/SuSE-release")
    if suse and suse.strip():
        return _detect_suse_release(suse, arch)
    debian = _debian_version(tree)
    if debian:
        return OsInfo(OsType.LINUX, "debian", debian, f"Debian GNU/Linux {debian}", arch)
    return None


def _detect_suse_release(text: str, arch: str | None) -> OsInfo:
    """SLES 11 and older openSUSE: /etc/SuSE-release ("VERSION = 11", "PATCHLEVEL = 4")."""
    line = text.strip().splitlines()[0]
    values = {k.strip(): v.strip() for k, _, v in (row.partition("=") for row in text.splitlines()[1:]) if v}
    if "opensuse" in line.lower():
        dist = "opensuse"
    else:
        dist = "sled" if "desktop" in line.lower() else "sles"
    version = values.get("VERSION")
    if version and values.get("PATCHLEVEL", "0") != "0":
        version = f"{version}.{values['PATCHLEVEL']}"
    return OsInfo(OsType.LINUX, dist, version, line, arch)


def _debian_version(tree: GuestTree) -> str | None:
    text = tree.read("/etc/debian_version")
    return text.strip() if text and text.strip() else None


def _elf_arch(tree: GuestTree) -> str | None:
    for candidate in ("/bin/sh", "/usr/bin/sh", "/bin/ls", "/usr/bin/ls"):
        try:
            head = tree.read_bytes(candidate, 20) or b""
        except OSError:
            continue
        if len(head) == 20 and head[:4] == b"\x7fELF":
            endian = "<" if head[5] == 1 else ">"
            (machine,) = struct.unpack(endian + "H", head[18:20])
            return _ELF_MACHINES.get(machine)
    return None


def _child(tree: GuestTree, directory: str | None, name: str) -> str | None:
    """The guest path of ``directory/name`` matched case-insensitively, as Windows paths are."""
    if directory is None or not tree.is_dir(directory):
        return None
    lower = name.lower()
    for entry in tree.listdir(directory):
        if entry.lower() == lower:
            return str(PurePosixPath(directory) / entry)
    return None


def _find_windows(tree: GuestTree) -> str | None:
    """The Windows directory, if it has the registry hives (Windows/System32/config/SYSTEM)."""
    windows = _child(tree, "/", "Windows")
    config = _child(tree, _child(tree, windows, "System32"), "config")
    if _child(tree, config, "SYSTEM") is not None and _child(tree, config, "SOFTWARE") is not None:
        return windows
    return None


def _detect_windows(tree: GuestTree, windows: str) -> OsInfo:
    system32 = _child(tree, windows, "System32")
    cmd = _child(tree, system32, "cmd.exe")
    arch = _pe_arch(tree.read_bytes(cmd, 4096) if cmd else None)
    if arch is None:
        arch = "x86_64" if _child(tree, windows, "SysWOW64") is not None else None
    software = _child(tree, _child(tree, system32, "config"), "SOFTWARE")
    product, version = _windows_product(tree, software)
    return OsInfo(OsType.WINDOWS, "windows", version, product, arch)


def _pe_arch(head: bytes | None) -> str | None:
    if head is None:
        return None
    if head[:2] != b"MZ" or len(head) < 64:
        return None
    (pe_offset,) = struct.unpack_from("<I", head, 0x3C)
    if pe_offset + 6 > len(head) or head[pe_offset : pe_offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, pe_offset + 4)
    return _PE_MACHINES.get(machine)


def _windows_product(tree: GuestTree, software: str | None) -> tuple[str | None, str | None]:
    """ProductName and version from the SOFTWARE hive (opened by the tree: in the appliance for a guest)."""
    if software is None:
        return None, None
    from morphing.errors import MorphError
    from morphing.registry import Hive
    from morphing.windows.facts import read_version

    try:
        with tree.open_hive(software) as handle:
            product, major, minor, _build, _server, _edition = read_version(Hive(handle))
    except (OSError, ImportError, MorphError):
        return None, None
    return product, f"{major}.{minor}"
