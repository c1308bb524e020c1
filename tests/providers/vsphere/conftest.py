"""A vcsim simulator for the session, with test disks placed in its datastore and attached to VMs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from providers import netpolicy
from providers.types import MigrationContext
from tests.providers.vsphere.vcsim import Vcsim, ensure_vcsim, start_vcsim

MIB = 1 << 20
DISK_FOLDER = "coriolis-test"
HOT_VM = "DC0_H0_VM0"
COLD_VM = "DC0_C0_RP0_VM0"
TEMPLATE_VM = "DC0_H0_VM1"


def make_raw(path: Path, size: int) -> Path:
    """A raw disk of ``size`` bytes: random data in its first half and a marker near the end, zeros between."""
    with open(path, "wb") as f:
        f.write(os.urandom(size // 2))
        f.truncate(size)
        f.seek(size - 4096)
        f.write(b"END-OF-TEST-DISK".ljust(4096, b"\xa5"))
    return path


def make_vmdk(raw: Path, out: Path, subformat: str) -> Path:
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}",
                    str(raw), str(out)], check=True, capture_output=True)
    return out


def wait_task(task: Any, timeout: float = 30) -> Any:
    """Wait for a vcsim task in the test's own session (reads only ``info.state``, see client.wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = task.info.state
        if state == "success":
            return task.info.result
        if state == "error":
            raise AssertionError(f"task failed: {task.info.error}")
        time.sleep(0.05)
    raise AssertionError("task timed out")


def find_vm(si: Any, name: str) -> Any:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return next(vm for vm in view.view if vm.name == name)
    finally:
        view.Destroy()


def attach_disk(si: Any, vm: Any, datastore_path: str, size: int, unit: int) -> int:
    """Attach an existing datastore VMDK to ``vm`` on its first SCSI controller; returns the device key."""
    controller = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualSCSIController))
    disk = vim.vm.device.VirtualDisk(
        key=-1, controllerKey=controller.key, unitNumber=unit, capacityInKB=size // 1024,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=datastore_path, diskMode="persistent", datastore=vm.datastore[0], thinProvisioned=True),
    )
    spec = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add", device=disk)])
    wait_task(vm.ReconfigVM_Task(spec))
    found = [d for d in vm.config.hardware.device
             if isinstance(d, vim.vm.device.VirtualDisk) and d.backing.fileName == datastore_path]
    assert len(found) == 1
    return found[0].key


@pytest.fixture(autouse=True)
def _allow_loopback_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """vcsim listens on 127.0.0.1, which the endpoint host policy refuses by default."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


@pytest.fixture(scope="session")
def vcsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vcsim]:
    """A vcsim for the session (VPX model, 3 VMs per host and per cluster); stopped and its datastore removed."""
    server = start_vcsim(ensure_vcsim(), tmp_path_factory.mktemp("vcsim") / "vcsim.log")
    try:
        si = SmartConnect(host=server.host, port=server.port, user="user", pwd="pass",
                          disableSslCertValidation=True)
        try:
            content = si.RetrieveContent()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Datastore], True)
            server.datastore_dir = Path(view.view[0].info.url)
            view.Destroy()
        finally:
            Disconnect(si)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def si(vcsim: Vcsim) -> Iterator[Any]:
    """A pyvmomi session of the tests' own, to arrange the simulator and look at it."""
    session = SmartConnect(host=vcsim.host, port=vcsim.port, user="user", pwd="pass",
                           disableSslCertValidation=True)
    yield session
    Disconnect(session)


@pytest.fixture(scope="session")
def source_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raw(tmp_path_factory.mktemp("disks") / "source.raw", 6 * MIB)


@pytest.fixture(scope="session")
def test_disks(vcsim: Vcsim, si: Any, source_raw: Path) -> dict[str, Any]:
    """The source disk placed in the datastore as a flat VMDK (hot VM, cold VM) and a sparse one (hot VM)."""
    assert vcsim.datastore_dir is not None
    folder = vcsim.datastore_dir / DISK_FOLDER
    folder.mkdir()
    make_vmdk(source_raw, folder / "flat.vmdk", "monolithicFlat")
    make_vmdk(source_raw, folder / "sparse.vmdk", "monolithicSparse")
    (folder / "sparse-flat.vmdk").touch()  # vcsim checks that a "<disk>-flat.vmdk" exists for any disk
    make_vmdk(source_raw, folder / "cold.vmdk", "monolithicFlat")
    make_vmdk(source_raw, folder / "template.vmdk", "monolithicFlat")
    size = source_raw.stat().st_size
    hot, cold = find_vm(si, HOT_VM), find_vm(si, COLD_VM)
    keys = {
        "flat": attach_disk(si, hot, f"[LocalDS_0] {DISK_FOLDER}/flat.vmdk", size, 1),
        "sparse": attach_disk(si, hot, f"[LocalDS_0] {DISK_FOLDER}/sparse.vmdk", size, 2),
        "cold": attach_disk(si, cold, f"[LocalDS_0] {DISK_FOLDER}/cold.vmdk", size, 1),
    }
    template = find_vm(si, TEMPLATE_VM)
    keys["template"] = attach_disk(si, template, f"[LocalDS_0] {DISK_FOLDER}/template.vmdk", size, 1)
    wait_task(template.PowerOffVM_Task())
    template.MarkAsTemplate()
    return {"keys": keys, "size": size, "hot": hot._moId, "cold": cold._moId, "template": template._moId}


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    return MigrationContext(migration_id="m1", instance=HOT_VM, staging_dir=tmp_path / "staging")
