"""The replicate stage's sync (``sync_disk``): change tracking from kvm qcow2 bitmaps and vSphere CBT.

The kvm part runs for real (qcow2 images, qemu-io writes, qemu-nbd). The vSphere part replays
recorded QueryChangedDiskAreas answers (``tests/providers/vsphere/test_cbt.py``: a recording-based
fake, vcsim has no such method) through the real ``VsphereExporter.changed_areas``; the VM's
configuration, which that fake cannot serve, is a small stand-in object.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conversion import checksum, sync
from coriolis_tasks.replica_stages import sync_disk
from providers.kvm import bitmaps
from providers.kvm.source import make_exporter as make_kvm_exporter
from providers.types import Cancelled, DiskInfo, DiskRef, MigrationContext, NullReporter, VmInfo
from providers.vsphere import make_exporter as make_vsphere_exporter
from providers.vsphere.client import VsphereClient
from tests.providers.kvm.domains import qemu_io_write, write_domain
from tests.providers.vsphere.test_cbt import DISK_SIZE, recorded_server  # noqa: F401  (a fixture)

MIB = 1 << 20
CHUNK = 64 << 10


@pytest.fixture()
def kvm(tmp_path):
    folder = tmp_path / "domains"
    write_domain(folder, "web", [("web.qcow2", "qcow2", "vda", "virtio", 48 * MIB),
                                 ("web-data.raw", "raw", "vdb", "virtio", 4 * MIB)])
    image = folder / "web.qcow2"
    qemu_io_write(image, "qcow2", [(i * MIB, MIB, 0x10 + i) for i in range(0, 48, 3)])  # a third holds data
    exporter = make_kvm_exporter({"domains_dir": str(folder)}, {})
    return SimpleNamespace(exporter=exporter, vm=exporter.get_instance("web"), image=image, folder=folder,
                           replicas=tmp_path / "replicas")


def _ctx(tmp_path: Path, number: int) -> MigrationContext:
    return MigrationContext(f"exec{number}", "web", tmp_path / "staging" / f"exec{number}", "transfer1")


def _run(kvm, tmp_path, number, disk_id="vda", reporter=None):
    return sync_disk(kvm.exporter, kvm.vm, kvm.vm.disk(disk_id), _ctx(tmp_path, number), reporter or NullReporter(),
                     kvm.replicas)


def test_three_syncs_read_and_write_only_what_changed(kvm, tmp_path):
    stats, method = _run(kvm, tmp_path, 1)
    assert method == "full_copy" and stats.change_id
    assert stats.checksum == checksum(kvm.image, "qcow2") == checksum(kvm.replicas / "vda.raw", "raw")
    writes = [[(5 * MIB, CHUNK, 0xA1), (20 * MIB + 3 * CHUNK, 2 * CHUNK, 0xA2), (47 * MIB, CHUNK, 0xA3)],
              [(0, CHUNK, 0xB1), (33 * MIB + 8 * CHUNK, CHUNK, 0xB2)]]
    for number, batch in enumerate(writes, start=2):
        changed = qemu_io_write(kvm.image, "qcow2", batch)
        stats, method = _run(kvm, tmp_path, number)
        assert method == "changed_areas" and stats.generation == number
        assert stats.bytes_read == changed and stats.bytes_written == changed  # <= 1.2x changed
        assert stats.checksum == checksum(kvm.image, "qcow2") == checksum(kvm.replicas / "vda.raw", "raw")
        assert sync.read_state(kvm.replicas, "vda")["change_id"] == stats.change_id
        assert {b.name for b in bitmaps.list_bitmaps(kvm.image)} >= {stats.change_id}


def test_a_cancelled_sync_loses_no_write(kvm, tmp_path):
    first, _ = _run(kvm, tmp_path, 1)
    qemu_io_write(kvm.image, "qcow2", [(7 * MIB, CHUNK, 0xC1)])
    reporter = NullReporter()
    reporter.cancelled = True  # the execution is cancelled while it reads the changed areas
    with pytest.raises(Cancelled):
        _run(kvm, tmp_path, 2, reporter=reporter)
    assert sync.read_state(kvm.replicas, "vda")["change_id"] == first.change_id
    assert checksum(kvm.replicas / "vda.raw", "raw") == first.checksum  # the previous generation, whole
    qemu_io_write(kvm.image, "qcow2", [(9 * MIB, CHUNK, 0xC2)])
    stats, method = _run(kvm, tmp_path, 3)
    assert method == "changed_areas" and stats.bytes_written == 2 * CHUNK
    assert stats.checksum == checksum(kvm.image, "qcow2") == checksum(kvm.replicas / "vda.raw", "raw")


class _SlowReporter(NullReporter):
    def step(self, done, total, message=""):
        if message.startswith("syncing") and done > 0:  # the NBD export is open and being read
            Path(os.environ["MARK"]).touch()
            time.sleep(60)


def _killed_child(kvm, tmp_path, mark):
    os.environ["MARK"] = str(mark)
    _run(kvm, tmp_path, 2, reporter=_SlowReporter())


def test_a_killed_sync_leaves_no_lock_and_loses_no_write(kvm, tmp_path):
    _run(kvm, tmp_path, 1)
    qemu_io_write(kvm.image, "qcow2", [(11 * MIB, CHUNK, 0xD1)])
    mark = tmp_path / "reading"
    child = multiprocessing.get_context("fork").Process(target=_killed_child, args=(kvm, tmp_path, mark))
    child.start()
    deadline = time.monotonic() + 30
    while not mark.exists():
        assert time.monotonic() < deadline and child.is_alive()
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)  # the worker dies mid-read, its qemu-nbd export open
    child.join()
    deadline = time.monotonic() + 10
    while subprocess.run(["fuser", str(kvm.image)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "qemu-nbd outlived the killed worker"
        time.sleep(0.05)
    qemu_io_write(kvm.image, "qcow2", [(13 * MIB, CHUNK, 0xD2)])  # the image is writable again
    stats, method = _run(kvm, tmp_path, 3)
    assert method == "changed_areas" and stats.bytes_written == 2 * CHUNK
    assert stats.checksum == checksum(kvm.image, "qcow2") == checksum(kvm.replicas / "vda.raw", "raw")


def test_a_raw_disk_falls_back_to_comparing_every_chunk(kvm, tmp_path):
    raw = kvm.folder / "web-data.raw"
    with open(raw, "r+b") as fh:
        fh.write(os.urandom(MIB))
    first, method = _run(kvm, tmp_path, 1, "vdb")
    assert method == "full_copy" and first.change_id is None
    with open(raw, "r+b") as fh:
        fh.seek(2 * MIB)
        fh.write(os.urandom(CHUNK))
    stats, method = _run(kvm, tmp_path, 2, "vdb")
    assert method == "hash_compare" and stats.bytes_written == CHUNK and stats.bytes_read == MIB + CHUNK
    assert stats.checksum == checksum(raw, "raw") == checksum(kvm.replicas / "vdb.raw", "raw")


def test_a_lost_bitmap_falls_back_to_comparing_every_chunk(kvm, tmp_path):
    first, _ = _run(kvm, tmp_path, 1)
    bitmaps.remove(kvm.image, [first.change_id])
    qemu_io_write(kvm.image, "qcow2", [(3 * MIB, CHUNK, 0xE1)])
    stats, method = _run(kvm, tmp_path, 2)
    assert method == "hash_compare" and stats.bytes_written == CHUNK
    stats, method = _run(kvm, tmp_path, 3)  # tracking resumed with the bitmap that sync started
    assert method == "changed_areas" and stats.bytes_read == 0
    assert stats.checksum == checksum(kvm.image, "qcow2")


# vSphere CBT -------------------------------------------------------------------------------------

OLD_ID = "52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/12"
NEW_ID = "52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/14"



def test_vsphere_cbt_areas_are_the_only_ones_the_stage_reads(recorded_server, tmp_path, monkeypatch):  # noqa: F811
    client = VsphereClient.without_login("127.0.0.1", recorded_server.server_address[1])
    moref = client.vm_by_id("vm-57")
    device = SimpleNamespace(key=2000, capacityInKB=DISK_SIZE // 1024, backing=SimpleNamespace(changeId=NEW_ID))
    vm_obj = SimpleNamespace(  # what the recorded fake cannot serve: the VM's configuration and power state
        name="web", config=SimpleNamespace(changeTrackingEnabled=True, hardware=SimpleNamespace(device=[device])),
        runtime=SimpleNamespace(powerState="poweredOff"), QueryChangedDiskAreas=moref.QueryChangedDiskAreas,
    )
    monkeypatch.setattr(client, "find_vm", lambda _id: vm_obj)
    exporter = make_vsphere_exporter({"host": "vc.example", "username": "u", "password": "p"}, {})
    monkeypatch.setattr(exporter, "_client", lambda: client)
    source = tmp_path / "disk-2000.raw"
    with open(source, "wb") as fh:
        fh.truncate(DISK_SIZE)
        fh.write(os.urandom(DISK_SIZE))
    exported: list[str] = []

    def export_disk(vm, disk, ctx, reporter):
        exported.append(disk.id)
        return DiskRef(disk.id, str(source), "raw", DISK_SIZE)

    monkeypatch.setattr(exporter, "export_disk", export_disk)
    vm = VmInfo(id="vm-57", name="web", disks=(DiskInfo(id="2000", size_bytes=DISK_SIZE, format="vmdk"),))
    replicas = tmp_path / "replicas"
    ctx = MigrationContext("exec1", "web", tmp_path / "staging", "transfer1")
    sync.sync(source, replicas, "2000", change_id=OLD_ID)  # the previous execution's committed replica
    reads: list[tuple[int, int]] = []
    real_pread = os.pread

    def pread(fd, length, offset):
        if os.readlink(f"/proc/self/fd/{fd}") == str(source):
            reads.append((offset, length))
        return real_pread(fd, length, offset)

    with open(source, "r+b") as fh:  # the changes CBT reports (recorded window answers)
        for offset, length in [(0, 65536), (1048576, 196608), (6225920, 65536)]:
            fh.seek(offset)
            fh.write(os.urandom(length))
    monkeypatch.setattr(os, "pread", pread)
    stats, method = sync_disk(exporter, vm, vm.disk("2000"), ctx, NullReporter(), replicas)
    monkeypatch.undo()
    assert method == "changed_areas" and exported == ["2000"]
    assert reads == [(0, 65536), (1048576, 196608), (6225920, 65536)]
    assert stats.bytes_read == 327680 and stats.change_id == NEW_ID and stats.areas == 3
    assert [r["startOffset"] for r in recorded_server.requests] == ["0", "4194304"]
    assert stats.checksum == checksum(source, "raw") == checksum(replicas / "2000.raw", "raw")
    assert sync.read_state(replicas, "2000")["change_id"] == NEW_ID
