"""Offline OS detection in a guest tree: os-release and friends, or Windows by its registry files."""

from __future__ import annotations

import re
import shlex
import struct
from pathlib import Path

from morphing.tree import GuestTree
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


def detect_os(root: Path) -> OsInfo:
    """What OS the tree at ``root`` holds; ``OsType.UNKNOWN`` when none is recognised.

    Args:
        root: the guest's root directory (a mounted guest or a plain tree).
    """
    tree = GuestTree(root)
    windows = _find_windows(root)
    if windows is not None:
        return _detect_windows(windows)
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
    debian = _debian_version(tree)
    if debian:
        return OsInfo(OsType.LINUX, "debian", debian, f"Debian GNU/Linux {debian}", arch)
    return None


def _debian_version(tree: GuestTree) -> str | None:
    text = tree.read("/etc/debian_version")
    return text.strip() if text and text.strip() else None


def _elf_arch(tree: GuestTree) -> str | None:
    for candidate in ("/bin/sh", "/usr/bin/sh", "/bin/ls", "/usr/bin/ls"):
        try:
            with tree.path(candidate).open("rb") as f:
                head = f.read(20)
        except OSError:
            continue
        if len(head) == 20 and head[:4] == b"\x7fELF":
            endian = "<" if head[5] == 1 else ">"
            (machine,) = struct.unpack(endian + "H", head[18:20])
            return _ELF_MACHINES.get(machine)
    return None


def _child(directory: Path, name: str) -> Path | None:
    """``directory/name`` matched case-insensitively, as Windows paths are."""
    if not directory.is_dir():
        return None
    exact = directory / name
    if exact.exists():
        return exact
    lower = name.lower()
    for entry in directory.iterdir():
        if entry.name.lower() == lower:
            return entry
    return None


def _find_windows(root: Path) -> Path | None:
    """The Windows directory, if it has the registry hives (Windows/System32/config/SYSTEM)."""
    windows = _child(root, "Windows")
    config = None
    if windows is not None:
        system32 = _child(windows, "System32")
        config = _child(system32, "config") if system32 else None
    if config is not None and _child(config, "SYSTEM") is not None and _child(config, "SOFTWARE") is not None:
        return windows
    return None


def _detect_windows(windows: Path) -> OsInfo:
    system32 = _child(windows, "System32")
    assert system32 is not None
    arch = _pe_arch(_child(system32, "cmd.exe"))
    if arch is None:
        arch = "x86_64" if _child(windows, "SysWOW64") is not None else None
    product, version = _windows_product(_child(_child(system32, "config") or system32, "SOFTWARE"))
    return OsInfo(OsType.WINDOWS, "windows", version, product, arch)


def _pe_arch(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:2] != b"MZ" or len(head) < 64:
        return None
    (pe_offset,) = struct.unpack_from("<I", head, 0x3C)
    if pe_offset + 6 > len(head) or head[pe_offset : pe_offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, pe_offset + 4)
    return _PE_MACHINES.get(machine)


def _windows_product(software: Path | None) -> tuple[str | None, str | None]:
    """ProductName and version from the SOFTWARE hive, when python hivex is installed."""
    if software is None:
        return None, None
    try:
        import hivex  # type: ignore[import-not-found]
    except ImportError:
        return None, None
    try:
        hive = hivex.Hivex(str(software))
        node = hive.root()
        for name in ("Microsoft", "Windows NT", "CurrentVersion"):
            node = hive.node_get_child(node, name)
            if node is None:
                return None, None
        values = {hive.value_key(v): v for v in hive.node_values(node)}
        product = hive.value_string(values["ProductName"]) if "ProductName" in values else None
        version = None
        if "CurrentMajorVersionNumber" in values:
            major = hive.value_dword(values["CurrentMajorVersionNumber"])
            minor = (
                hive.value_dword(values["CurrentMinorVersionNumber"]) if ("CurrentMinorVersionNumber" in values) else 0
            )
            version = f"{major}.{minor}"
        elif "CurrentVersion" in values:
            version = hive.value_string(values["CurrentVersion"])
        return product, version
    except (RuntimeError, KeyError, OSError):
        return None, None
