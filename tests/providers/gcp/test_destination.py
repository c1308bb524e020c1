"""The gcp destination: disk.raw tarballs through gcp-storage-emulator, images/instances through the named fake."""

from __future__ import annotations

import os
import tarfile

import pytest

from conversion import checksum
from providers.gcp import PROVIDER
from providers.gcp.destination import GcpImporter
from providers.gcp.tarball import GIB, TarGzStream
from providers.types import Cancelled, DiskInfo, DiskRef, Firmware, NicInfo, NullReporter, VmInfo
from tests.providers.gcp.conftest import gcp_connection

MIB = 1 << 20


def importer(fake, **target) -> GcpImporter:
    return PROVIDER.importer(gcp_connection(fake), target)  # type: ignore[misc,return-value]


def make_raw(path, size: int, writes: dict[int, bytes]):
    with open(path, "wb") as out:
        out.truncate(size)
        for offset, data in writes.items():
            os.pwrite(out.fileno(), data, offset)
    return path


def test_tarball_holds_disk_raw_padded_to_gib(tmp_path):
    raw = make_raw(tmp_path / "d.raw", 3 * MIB + 5, {0: b"boot", 3 * MIB: b"tail"})
    stream = TarGzStream(raw, 3 * MIB + 5)
    out = tmp_path / "d.tar.gz"
    with open(out, "wb") as fh:
        while piece := stream.read(1 << 20):
            fh.write(piece)
    stream.close()
    with tarfile.open(out, "r:gz") as tar:
        (member,) = tar.getmembers()
        assert member.name == "disk.raw" and member.size == GIB
        data = tar.extractfile(member).read(4 * MIB)
    assert data[:4] == b"boot" and data[3 * MIB:3 * MIB + 4] == b"tail" and not any(data[3 * MIB + 5:])
    assert out.stat().st_size < 8 * MIB  # 1 GiB compressed as it streamed


def test_instance_from_images_on_mapped_subnetworks(gce_fake, ctx, tmp_path):
    vm = VmInfo(id="vm-1", name="web-01", num_cpu=2, memory_mb=6000, firmware_type=Firmware.EFI,
                disks=(DiskInfo("disk-0", 40 * MIB), DiskInfo("disk-1", 8 * MIB)),
                nics=(NicInfo("00:50:56:00:00:01", "VM Network"),))
    subnet = gce_fake.add_subnetwork("europe-west1", "prod")
    imp = importer(gce_fake, network_map={"VM Network": subnet}, chunk_size_mib=1)
    imp.validate()
    raws = [make_raw(tmp_path / f"{d.id}.raw", d.size_bytes, {MIB: os.urandom(3 * MIB)}) for d in vm.disks]
    refs = [imp.import_disk(vm, DiskRef(d.id, str(r), "raw", d.size_bytes), ctx, NullReporter())
            for d, r in zip(vm.disks, raws, strict=True)]
    for ref, raw in zip(refs, raws, strict=True):  # the image holds exactly the source's bytes (padded to GiB)
        image = gce_fake.images[ref.path.removeprefix("gce-image:")]
        with open(raw, "r+b") as fh:
            fh.truncate(GIB)
        assert checksum(image["_raw"], "raw") == checksum(raw, "raw")
        assert {"type": "UEFI_COMPATIBLE"} in image["guestOsFeatures"]
        assert {"type": "GVNIC"} in image["guestOsFeatures"]
    assert list(gce_fake.storage.client().list_blobs("coriolis-images", prefix="coriolis/")) == []
    made = imp.create_instance(vm, refs, ctx, NullReporter())
    assert imp.boot(made, ctx, NullReporter()).booted
    instance = gce_fake.instances[made.id]
    assert instance["machineType"].endswith("/e2-standard-2")  # 2 CPUs, 6000 MB: the shared-core e2-micro is too small
    assert [n["subnetwork"] for n in instance["networkInterfaces"]] == [subnet]
    assert [d["boot"] for d in instance["disks"]] == [True, False]
    assert all(gce_fake.labelled(ctx.migration_id).values())
    imp.cleanup(ctx)
    imp.cleanup(ctx)
    assert gce_fake.labelled(ctx.migration_id) == {"images": [], "instances": [], "disks": []}


def test_a_cancelled_upload_leaves_nothing(gce_fake, ctx, tmp_path):
    raw = make_raw(tmp_path / "d.raw", 64 * MIB, {i * MIB: os.urandom(MIB) for i in range(0, 64, 2)})
    reporter = NullReporter()
    reporter.cancelled = True
    imp = importer(gce_fake, chunk_size_mib=1)
    with pytest.raises(Cancelled):
        imp.import_disk(VmInfo(id="v", name="web-01"), DiskRef("disk-0", str(raw), "raw", 64 * MIB), ctx, reporter)
    imp.cleanup(ctx)
    assert list(gce_fake.storage.client().list_blobs("coriolis-images", prefix=f"coriolis/{ctx.migration_id}")) == []
    assert gce_fake.labelled(ctx.migration_id) == {"images": [], "instances": [], "disks": []}
    profile = imp.target_profile(VmInfo(id="v", name="x"))
    assert (profile.nic_model, profile.cloud_init_datasources) == ("gvnic", ("GCE",))
