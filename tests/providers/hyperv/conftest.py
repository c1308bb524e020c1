"""A fake WinRM host (hand-written: no Hyper-V emulator exists) and a real loopback smbd serving real VHD/VHDX
files made with qemu-img, for the session; a fresh fake inventory per test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers import netpolicy
from providers.types import MigrationContext
from tests.fixtures.hyperv_model import FakeDisk, FakeNic, FakeVm, HypervModel
from tests.fixtures.samba import Samba, start_samba
from tests.fixtures.winrm_fake import WinRMFake

MIB = 1 << 20
USER, PASSWORD = "CORIOLIS\\hvadmin", "Winrm-Secret-1"
FOLDER = "Hyper-V\\Virtual Hard Disks"


def host_path(name: str) -> str:
    """The Windows path of a file placed in the share's disk folder."""
    return f"C:\\{FOLDER}\\{name}"


def make_raw(path: Path, size: int) -> Path:
    """Random data in the first half, a marker near the end, zeros between."""
    with open(path, "wb") as f:
        f.write(os.urandom(size // 2))
        f.truncate(size)
        f.seek(size - 4096)
        f.write(b"END-OF-TEST-DISK".ljust(4096, b"\xa5"))
    return path


def qemu_img_convert(src: Path, src_fmt: str, dst: Path, dst_fmt: str, *options: str) -> Path:
    subprocess.run(["qemu-img", "convert", "-f", src_fmt, "-O", dst_fmt, *options, str(src), str(dst)],
                   check=True, capture_output=True)
    return dst


@pytest.fixture(autouse=True)
def _allow_loopback_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake and smbd listen on 127.0.0.1, which the endpoint host policy refuses by default."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samba]:
    server = start_samba(tmp_path_factory.mktemp("samba"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def winrm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinRMFake]:
    fake = WinRMFake(HypervModel(USER, PASSWORD), tmp_path_factory.mktemp("winrm"))
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def source_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raw(tmp_path_factory.mktemp("disks") / "source.raw", 6 * MIB)


@pytest.fixture(scope="session")
def share_disks(samba: Samba, source_raw: Path) -> dict[str, Any]:
    """The source disk in the share as a dynamic VHDX, a fixed VHD and a dynamic VHD, plus a second VHDX."""
    folder = samba.drive_c / FOLDER.replace("\\", "/")
    folder.mkdir(parents=True, exist_ok=True)
    qemu_img_convert(source_raw, "raw", folder / "app.vhdx", "vhdx", "-o", "subformat=dynamic")
    qemu_img_convert(source_raw, "raw", folder / "fixed.vhd", "vpc", "-o", "subformat=fixed,force_size=on")
    qemu_img_convert(source_raw, "raw", folder / "dynamic.vhd", "vpc", "-o", "subformat=dynamic,force_size=on")
    data = make_raw(folder.parent / "data.raw", 2 * MIB)
    qemu_img_convert(data, "raw", folder / "data.vhdx", "vhdx")
    data.unlink()
    return {"size": source_raw.stat().st_size, "data_size": 2 * MIB, "folder": folder}


@pytest.fixture
def model(winrm: WinRMFake, share_disks: dict[str, Any]) -> HypervModel:
    """A fresh inventory: ``app01`` (running, two VHDX disks), ``legacy`` (VHDs), ``db01`` (a pass-through disk)."""
    fresh = HypervModel(winrm.model.username, winrm.model.password)
    fresh.vhd_path = f"C:\\{FOLDER}"
    size = share_disks["size"]
    fresh.add(FakeVm("app01", [
        FakeDisk(host_path("app.vhdx"), size, "SCSI", 0, 0),
        FakeDisk(host_path("data.vhdx"), share_disks["data_size"], "SCSI", 0, 1),
    ], [FakeNic("00:15:5d:00:00:01", "External", vlan=12)], generation=2))
    fresh.add(FakeVm("legacy", [
        FakeDisk(host_path("fixed.vhd"), size, vhd_format="VHD", vhd_type="Fixed"),
        FakeDisk(host_path("dynamic.vhd"), size, controller_location=1, vhd_format="VHD"),
    ], [FakeNic("00:15:5d:00:00:02", "Internal")], state="Off"))
    fresh.add(FakeVm("db01", [
        FakeDisk(host_path("app.vhdx"), size),
        FakeDisk(None, 0, "SCSI", 0, 0, disk_number=2),
    ]))
    winrm.model = fresh
    return fresh


@pytest.fixture
def connection(winrm: WinRMFake, samba: Samba) -> dict[str, Any]:
    return {
        "host": "127.0.0.1", "port": winrm.port, "username": USER, "password": PASSWORD, "allow_untrusted": True,
        "smb_port": samba.port, "smb_username": samba.username, "smb_password": samba.password,
    }


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    return MigrationContext(migration_id="m1", instance="app01", staging_dir=tmp_path / "staging")
