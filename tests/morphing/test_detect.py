"""Offline OS detection on guest trees."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from morphing.detect import detect_os
from providers.types import OsInfo, OsType


def write(root: Path, rel: str, text: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def elf(machine: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(11) + struct.pack("<H", machine) + bytes(40)


def test_debian_from_os_release_with_merged_usr(tmp_path: Path) -> None:
    write(tmp_path, "usr/lib/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").symlink_to("../usr/lib/os-release")
    write(tmp_path, "usr/bin/dash", elf(0x3E))
    (tmp_path / "usr/bin/sh").symlink_to("dash")
    (tmp_path / "bin").symlink_to("usr/bin")
    assert detect_os(tmp_path) == OsInfo(OsType.LINUX, "debian", "12", "Debian GNU/Linux 12 (bookworm)", "x86_64")


def test_absolute_symlinks_stay_inside_the_guest(tmp_path: Path) -> None:
    write(tmp_path, "usr/lib/os-release", "ID=debian\nVERSION_ID=11\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").symlink_to("/usr/lib/os-release")
    assert detect_os(tmp_path).version == "11"


def test_ubuntu(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etc/os-release",
        'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 22.04.3 LTS"\n',
    )
    info = detect_os(tmp_path)
    assert (info.distribution, info.version, info.product_name) == ("ubuntu", "22.04", "Ubuntu 22.04.3 LTS")


def test_old_ubuntu_by_lsb_release(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etc/lsb-release",
        'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\nDISTRIB_DESCRIPTION="Ubuntu 14.04.6 LTS"\n',
    )
    assert detect_os(tmp_path) == OsInfo(OsType.LINUX, "ubuntu", "14.04", "Ubuntu 14.04.6 LTS", None)


def test_debian_testing_version_from_debian_version(tmp_path: Path) -> None:
    write(tmp_path, "etc/os-release", 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n')
    write(tmp_path, "etc/debian_version", "trixie/sid\n")
    assert detect_os(tmp_path).version == "trixie/sid"


def test_debian_version_only(tmp_path: Path) -> None:
    write(tmp_path, "etc/debian_version", "7.11\n")
    assert detect_os(tmp_path).distribution == "debian"


def test_rhel_like_from_redhat_release(tmp_path: Path) -> None:
    write(tmp_path, "etc/redhat-release", "CentOS Linux release 7.9.2009 (Core)\n")
    write(tmp_path, "bin/ls", elf(0xB7))
    assert detect_os(tmp_path) == OsInfo(
        OsType.LINUX, "centos", "7.9.2009", "CentOS Linux release 7.9.2009 (Core)", "aarch64"
    )


def test_rocky_from_os_release(tmp_path: Path) -> None:
    write(
        tmp_path, "etc/os-release", 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
    )
    info = detect_os(tmp_path)
    assert (info.os_type, info.distribution, info.version) == (OsType.LINUX, "rocky", "9.3")


def test_windows_by_registry_paths(tmp_path: Path) -> None:
    for hive in ("SYSTEM", "SOFTWARE"):
        write(tmp_path, f"Windows/System32/config/{hive}", b"regf")
    pe = bytearray(256)
    pe[:2] = b"MZ"
    struct.pack_into("<I", pe, 0x3C, 0x80)
    pe[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", pe, 0x84, 0x8664)
    write(tmp_path, "Windows/System32/cmd.exe", bytes(pe))
    info = detect_os(tmp_path)
    assert (info.os_type, info.distribution, info.architecture) == (OsType.WINDOWS, "windows", "x86_64")


def test_windows_paths_any_case(tmp_path: Path) -> None:
    for hive in ("system", "software"):
        write(tmp_path, f"WINDOWS/system32/CONFIG/{hive}", b"regf")
    write(tmp_path, "WINDOWS/SysWOW64/x", b"")
    info = detect_os(tmp_path)
    assert (info.os_type, info.architecture) == (OsType.WINDOWS, "x86_64")


def test_nothing(tmp_path: Path) -> None:
    write(tmp_path, "lost+found/.keep", "")
    write(tmp_path, "home/user/notes.txt", "hello")
    assert detect_os(tmp_path) == OsInfo()


@pytest.mark.parametrize(
    ("os_release", "expected"),
    [
        ('ID="rhel"\nVERSION_ID="7.9"\nPRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"\n', ("rhel", "7.9")),
        ('ID="centos"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n', ("centos", "7")),
        ('ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n', ("rocky", "9.3")),
        ('ID="almalinux"\nVERSION_ID="8.9"\nPRETTY_NAME="AlmaLinux 8.9"\n', ("almalinux", "8.9")),
        ('ID="ol"\nVERSION_ID="8.9"\nPRETTY_NAME="Oracle Linux Server 8.9"\n', ("ol", "8.9")),
        ('ID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n', ("fedora", "39")),
        ('ID="sles"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\n', ("sles", "15.5")),
        ('ID="sled"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Desktop 15 SP5"\n', ("sled", "15.5")),
        ('ID="opensuse-leap"\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"\n', ("opensuse-leap", "15.5")),
        ('ID="opensuse-tumbleweed"\nVERSION_ID="20240101"\n', ("opensuse-tumbleweed", "20240101")),
    ],
)
def test_rpm_family_ids(tmp_path: Path, os_release: str, expected: tuple[str, str]) -> None:
    write(tmp_path, "etc/os-release", os_release)
    info = detect_os(tmp_path)
    assert (info.distribution, info.version) == expected


def test_sles11_by_suse_release(tmp_path: Path) -> None:
    write(tmp_path, "etc/SuSE-release", "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n")
    info = detect_os(tmp_path)
    assert (info.distribution, info.version, info.product_name) == (
        "sles",
        "11.4",
        "SUSE Linux Enterprise Server 11 (x86_64)",
    )


def test_centos6_by_redhat_release(tmp_path: Path) -> None:
    write(tmp_path, "etc/redhat-release", "CentOS release 6.10 (Final)\n")
    assert (detect_os(tmp_path).distribution, detect_os(tmp_path).version) == ("centos", "6.10")
