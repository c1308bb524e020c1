"""The azure destination: VHD page blobs against Azurite, managed disks/NICs/VM against the named ARM fake."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conversion import checksum
from providers.azure import PROVIDER
from providers.azure.blobs import RANGE, upload_vhd
from providers.azure.destination import AzureImporter, best_size
from providers.azure.vhd import FOOTER_SIZE, MIB, footer, parse_footer, vhd_size
from providers.types import Cancelled, DiskInfo, DiskRef, Firmware, NicInfo, NullReporter, ProviderError, VmInfo
from tests.providers.azure.conftest import azure_connection


def importer(arm, blobs, **target) -> AzureImporter:
    return PROVIDER.importer(azure_connection(arm, blobs), target)  # type: ignore[misc,return-value]


def make_raw(path, size: int, writes: dict[int, bytes]):
    with open(path, "wb") as out:
        out.truncate(size)
        for offset, data in writes.items():
            os.pwrite(out.fileno(), data, offset)
    return path


def qemu_size(path) -> int:
    done = subprocess.run(["qemu-img", "info", "--output=json", "-f", "vpc", str(path)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)["virtual-size"]


@pytest.mark.parametrize("size", [MIB, 5 * MIB + 3, 4 << 30, 127 << 30])
def test_footer_reads_back_through_qemu(tmp_path, size):
    vsize = vhd_size(size)
    assert vsize % MIB == 0 and vsize >= size
    image = tmp_path / "disk.vhd"
    with open(image, "wb") as out:
        out.truncate(vsize)
        out.seek(vsize)
        out.write(footer(vsize))
    assert qemu_size(image) == vsize
    fields = parse_footer(footer(vsize))
    assert fields["disk_type"] == 2 and fields["current_size"] == vsize and fields["creator"] == b"win "
    broken = bytearray(footer(vsize))
    broken[100] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        parse_footer(bytes(broken))


def test_upload_writes_only_non_zero_ranges(azurite, tmp_path):
    size = 20 * MIB + 1000
    raw = make_raw(tmp_path / "d.raw", size, {5: b"boot", 9 * MIB: os.urandom(MIB), 20 * MIB: b"end",
                                              13 * MIB: bytes(MIB)})  # allocated zeros: never sent
    container = azurite.container("uploads")
    if not container.exists():
        container.create_container()
    done = upload_vhd(container, "d.vhd", raw, size, {"k": "v"}, NullReporter(), "up", parallel=3)
    vsize = vhd_size(size)
    assert done.virtual_size == vsize == 21 * MIB and done.ranges_written == 3
    blob = container.get_blob_client("d.vhd")
    written: list[tuple[int, int]] = []
    for page in sorted((r.start, r.end) for r in blob.list_page_ranges()):  # Azurite does not merge neighbours
        if written and written[-1][1] + 1 == page[0]:
            written[-1] = (written[-1][0], page[1])
        else:
            written.append(page)
    assert written == [(0, RANGE - 1), (2 * RANGE, 3 * RANGE - 1), (5 * RANGE, vsize + FOOTER_SIZE - 1)]
    back = tmp_path / "back.vhd"
    with open(back, "wb") as out:
        blob.download_blob().readinto(out)
    assert qemu_size(back) == vsize
    with open(raw, "r+b") as fh:
        fh.truncate(vsize)
    assert checksum(back, "vpc") == checksum(raw, "raw") == done.checksum


def test_a_cancelled_upload_leaves_no_blob(azure_arm, azurite, ctx, tmp_path):
    raw = make_raw(tmp_path / "d.raw", 24 * MIB, {i * MIB: b"x" * 4096 for i in range(0, 24, 4)})
    reporter = NullReporter()
    reporter.cancelled = True
    imp = importer(azure_arm, azurite)
    with pytest.raises(Cancelled):
        imp.import_disk(VmInfo(id="v", name="web-01"), DiskRef("disk-0", str(raw), "raw", 24 * MIB), ctx, reporter)
    assert [b.name for b in imp.container().list_blobs()] == [] or all(
        (b.metadata or {}).get("coriolis_migration_id") != ctx.migration_id
        for b in imp.container().list_blobs(include=["metadata"]))


def test_vm_from_managed_disks_on_mapped_subnets(azure_arm, azurite, azure_subnets, ctx, tmp_path):
    vm = VmInfo(id="vm-1", name="web-01", num_cpu=2, memory_mb=7000, firmware_type=Firmware.EFI,
                disks=(DiskInfo("disk-0", 8 * MIB), DiskInfo("disk-1", 3 * MIB + 512)),
                nics=(NicInfo("00:50:56:00:00:01", "VM Network"), NicInfo("00:50:56:00:00:02", "backend-pg")))
    imp = importer(azure_arm, azurite, network_map={"VM Network": azure_subnets["prod"],
                                                    "backend-pg": azure_subnets["backend"]})
    imp.validate()
    raws = [make_raw(tmp_path / f"{d.id}.raw", d.size_bytes, {MIB: os.urandom(4096)}) for d in vm.disks]
    refs = [imp.import_disk(vm, DiskRef(d.id, str(r), "raw", d.size_bytes), ctx, NullReporter())
            for d, r in zip(vm.disks, raws, strict=True)]
    for ref, raw in zip(refs, raws, strict=True):  # the managed disk holds the VHD of exactly the source's bytes
        copy = azure_arm.disk_copy(ref.path.removeprefix("azure-disk:"))
        assert qemu_size(copy) == ref.size_bytes == vhd_size(os.path.getsize(raw))
        with open(raw, "r+b") as fh:
            fh.truncate(ref.size_bytes)
        assert checksum(copy, "vpc") == checksum(raw, "raw") == ref.checksum
    assert [b.name for b in imp.container().list_blobs()] == []  # the page blobs went once imported
    made = imp.create_instance(vm, refs, ctx, NullReporter())
    assert imp.boot(made, ctx, NullReporter()).booted
    assert made.details["vm_size"] == best_size([{"name": "Standard_D2s_v3", "numberOfCores": 2,
                                                   "memoryInMB": 8192}], 2, 7000) == "Standard_D2s_v3"
    vm_res = azure_arm.resources[made.id.lower()]
    assert vm_res["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"] == refs[0].path.removeprefix(
        "azure-disk:")
    nics = [azure_arm.resources[n.lower()] for n in made.details["nic_ids"]]
    assert [n["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] for n in nics] == [
        azure_subnets["prod"], azure_subnets["backend"]]
    disk = azure_arm.resources[refs[0].path.removeprefix("azure-disk:").lower()]
    assert disk["properties"]["hyperVGeneration"] == "V2" and disk["properties"]["osType"] == "Linux"
    assert all(len(v) for v in azure_arm.tagged(ctx.migration_id).values())
    imp.cleanup(ctx)
    imp.cleanup(ctx)  # safe to repeat
    assert azure_arm.tagged(ctx.migration_id) == {"disks": [], "networkInterfaces": [], "virtualMachines": []}


def test_profile_and_options(azure_arm, azurite):
    profile = importer(azure_arm, azurite).target_profile(VmInfo(id="v", name="x"))
    assert (profile.disk_bus, profile.nic_model, profile.cloud_init_datasources) == ("hyperv", "hyperv", ("Azure",))
    with pytest.raises(ProviderError, match="network_map"):
        importer(azure_arm, azurite, network_map={"x": "not-a-subnet-id"})
    stack = {**azure_connection(azure_arm, azurite), "cloud": "AzureStack", "api_profile": "2020-09-01-hybrid"}
    del stack["blob_endpoint"]
    errors = PROVIDER.connection_schema().validate(stack)
    assert "blob_endpoint" in str(errors)
    bad = {**azure_connection(azure_arm, azurite), "client_secret": "wrong"}
    with pytest.raises(ProviderError, match="login refused"):
        PROVIDER.importer(bad, {}).validate()
