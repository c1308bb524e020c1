"""The aws destination against moto: EBS direct snapshot writes, the AMI, the instance, data volumes, cleanup."""

from __future__ import annotations

import pytest

from conversion import checksum
from providers.aws import PROVIDER, sizes
from providers.aws.blocks import BLOCK, listed_blocks, read_blocks
from providers.aws.destination import AwsImporter
from providers.types import Cancelled, DiskInfo, DiskRef, Firmware, NicInfo, NullReporter, ProviderError, VmInfo
from tests.providers.aws.conftest import MIB, make_raw


def importer(account, **target) -> AwsImporter:
    return PROVIDER.importer(account.moto.connection_info(), target)  # type: ignore[misc,return-value]


def read_back(imp: AwsImporter, snapshot_id: str, size: int, path) -> None:
    """The snapshot's blocks written into a sparse raw file (unlisted blocks are zeros)."""
    with open(path, "wb") as out:
        out.truncate(size)
        for index, data in read_blocks(imp.aws, snapshot_id, listed_blocks(imp.aws, snapshot_id)):
            out.seek(index * BLOCK)
            out.write(data)
        out.truncate(size)  # the last block runs past the disk's end


def test_disk_becomes_a_snapshot_of_its_non_zero_blocks(account, ctx, tmp_path):
    size = 20 * MIB + 4096  # not a whole number of blocks: the last one is padded with zeros
    raw = make_raw(tmp_path / "disk.raw", size, {0: None, 3: None, 7: bytes(BLOCK), 40: b"\x01" * 4096})
    digest = checksum(raw, "raw")
    imp = importer(account, parallel_writes=4)
    reporter = NullReporter()
    ref = imp.import_disk(VmInfo(id="i", name="web-01"), DiskRef("disk-0", str(raw), "raw", size, digest),
                          ctx, reporter)
    snapshot_id = ref.path.removeprefix("ebs-snapshot:")
    assert ref.path.startswith("ebs-snapshot:snap-") and ref.checksum == digest
    # the allocated all-zero block 7 and the holes were never sent
    assert sorted(listed_blocks(imp.aws, snapshot_id)) == [0, 3, 40]
    back = tmp_path / "back.raw"
    read_back(imp, snapshot_id, size, back)
    assert checksum(back, "raw") == digest
    snap = account.moto.client("ec2").describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    tags = {t["Key"]: t["Value"] for t in snap["Tags"]}
    assert snap["State"] == "completed" and snap["VolumeSize"] == 1
    assert tags["coriolis_migration_id"] == ctx.migration_id and tags["coriolis_disk_id"] == "disk-0"
    assert reporter.steps[-1][0] == 3 * BLOCK

    # a redelivered task finds the completed snapshot holding the same content and reuses it
    again = imp.import_disk(VmInfo(id="i", name="web-01"), DiskRef("disk-0", str(raw), "raw", size, digest),
                            ctx, NullReporter())
    assert again.path == ref.path
    imp.cleanup(ctx)
    assert account.tagged(ctx.migration_id)["snapshots"] == []


def test_a_cancelled_write_leaves_no_snapshot(account, ctx, tmp_path):
    raw = make_raw(tmp_path / "disk.raw", 16 * MIB, {i: None for i in range(0, 32, 2)})
    reporter = NullReporter()
    steps = []

    def step(done, total, message=""):
        steps.append(done)
        if len(steps) == 3:
            reporter.cancelled = True
        NullReporter.step(reporter, done, total, message)

    reporter.step = step  # type: ignore[method-assign]
    with pytest.raises(Cancelled):
        importer(account, parallel_writes=2).import_disk(
            VmInfo(id="i", name="web-01"), DiskRef("disk-0", str(raw), "raw", 16 * MIB), ctx, reporter)
    assert account.tagged(ctx.migration_id)["snapshots"] == []


def test_instance_from_snapshots_on_mapped_subnets(account, ctx, tmp_path):
    vm = VmInfo(id="vm-1", name="web-01", num_cpu=2, memory_mb=7000, firmware_type=Firmware.EFI,
                disks=(DiskInfo("disk-0", 8 * MIB), DiskInfo("disk-1", 4 * MIB)),
                nics=(NicInfo("00:50:56:00:00:01", "VM Network"), NicInfo("00:50:56:00:00:02", "backend-pg")))
    networks = {"VM Network": account.subnets["prod"], "backend-pg": account.subnets["backend"]}
    imp = importer(account, network_map=networks, security_group_ids=[account.security_group],
                   key_name=account.key_name)
    imp.validate()
    sent: list[dict] = []
    imp.aws.ec2.meta.events.register("provide-client-params.ec2.RegisterImage", lambda params, **_: sent.append(params))
    refs = [imp.import_disk(vm, DiskRef(d.id, str(make_raw(tmp_path / f"{d.id}.raw", d.size_bytes, {1: None})), "raw",
                                        d.size_bytes), ctx, NullReporter()) for d in vm.disks]
    made = imp.create_instance(vm, refs, ctx, NullReporter())
    assert imp.boot(made, ctx, NullReporter()).booted

    ec2 = account.moto.client("ec2")
    instance = ec2.describe_instances(InstanceIds=[made.id])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running"
    types = ec2.describe_instance_types()["InstanceTypes"]
    assert instance["InstanceType"] == made.details["instance_type"] == sizes.best_fit(types, 2, 7000)
    chosen = next(t for t in types if t["InstanceType"] == instance["InstanceType"])
    assert chosen["VCpuInfo"]["DefaultVCpus"] >= 2 and chosen["MemoryInfo"]["SizeInMiB"] >= 7000
    nics = sorted(instance["NetworkInterfaces"], key=lambda n: n["Attachment"]["DeviceIndex"])
    assert [n["SubnetId"] for n in nics] == [account.subnets["prod"], account.subnets["backend"]]
    assert all(account.security_group in [g["GroupId"] for g in n["Groups"]] for n in nics)
    assert instance["KeyName"] == account.key_name
    # moto ignores register_image's mappings, boot mode and ENA: the request we sent is what is checked
    assert sent[0]["BootMode"] == "uefi" and sent[0]["EnaSupport"] is True
    assert sent[0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == refs[0].path.removeprefix("ebs-snapshot:")
    (volume_id,) = made.details["volume_ids"]
    volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["SnapshotId"] == refs[1].path.removeprefix("ebs-snapshot:") and volume["State"] == "in-use"
    assert volume["Attachments"][0]["InstanceId"] == made.id

    left = account.tagged(ctx.migration_id)
    assert left["instances"] == [made.id] and left["images"] == [made.details["image_id"]]
    imp.cleanup(ctx)
    imp.cleanup(ctx)  # safe to repeat
    assert account.tagged(ctx.migration_id) == {"instances": [], "volumes": [], "images": [], "snapshots": []}


def test_target_profile_and_bad_options(account):
    profile = importer(account).target_profile(VmInfo(id="i", name="x", firmware_type=Firmware.EFI))
    assert (profile.disk_format, profile.disk_bus, profile.nic_model) == ("raw", "nvme", "ena")
    assert profile.cloud_init_datasources == ("Ec2",) and profile.firmware == Firmware.EFI
    with pytest.raises(ProviderError, match="subnet"):
        importer(account, subnet_id="subnet-0123456789abcdef0").validate()
    with pytest.raises(ProviderError, match="target_environment"):
        importer(account, network_map={"x": "not-a-subnet"})
