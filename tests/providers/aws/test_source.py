"""The aws source against moto: inventory, export through snapshots and EBS direct reads, changed blocks, cleanup."""

from __future__ import annotations

import os

import pytest

from conversion import checksum
from providers import netpolicy
from providers.abilities import ChangeTracking, DiskAreaReader
from providers.aws import PROVIDER
from providers.aws.blocks import BLOCK
from providers.aws.source import AwsExporter, merge_blocks
from providers.types import Cancelled, Firmware, InstanceNotFound, NullReporter
from tests.providers.aws.conftest import MIB, make_source_instance


@pytest.fixture(scope="module")
def source(account, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # the autouse loopback allowance is function-scoped
        patch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))
        return make_source_instance(account, tmp_path_factory.mktemp("aws-source"), "src-web")


def exporter(account, **env) -> AwsExporter:
    return PROVIDER.exporter(account.moto.connection_info(), env)  # type: ignore[misc,return-value]


def snapshots_of(account, volume_id: str) -> list[str]:
    ec2 = account.moto.client("ec2")
    return [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            if s.get("VolumeId") == volume_id]


def test_inventory(account, source):
    exp = exporter(account)
    exp.validate()
    listed = {vm.id: vm for vm in exp.list_instances()}
    vm = listed[source.instance_id]
    assert vm.name == "src-web" and vm.power_state == "running"
    assert [d.id for d in vm.disks] == source.volumes and all(d.size_bytes == 1 << 30 for d in vm.disks)
    assert vm.nics[0].network_name == account.subnets["prod"] and vm.nics[0].mac_address
    assert vm.memory_mb == 2048 and vm.num_cpu >= 1 and vm.firmware_type in (Firmware.BIOS, Firmware.EFI)
    # the instance type is the flavor the clients' instance listings show
    assert vm.flavor_name == account.moto.client("ec2").describe_instances(
        InstanceIds=[source.instance_id])["Reservations"][0]["Instances"][0]["InstanceType"]
    assert vm.to_dict()["flavor_name"] == vm.summary()["flavor_name"] == vm.flavor_name
    assert exp.get_instance("src-web") == vm == exp.get_instance(source.instance_id)
    with pytest.raises(InstanceNotFound):
        exp.get_instance("no-such-instance")


def test_export_reads_the_volume_and_drops_its_snapshot(account, source, ctx):
    exp = exporter(account, parallel_reads=3)
    vm = exp.get_instance(source.instance_id)
    before = snapshots_of(account, source.volumes[0])
    ref = exp.export_disk(vm, vm.disks[0], ctx, NullReporter())
    assert ref.format == "raw" and os.path.getsize(ref.path) == 1 << 30
    # the volume is 1 GiB, its first 24 MiB are the seed: the rest reads as zeros, so the content matches
    seed = source.raws[0]
    with open(seed, "r+b") as fh:
        fh.truncate(1 << 30)
    assert checksum(ref.path, "raw") == checksum(seed, "raw") == ref.checksum
    assert snapshots_of(account, source.volumes[0]) == before
    assert account.tagged(ctx.migration_id)["snapshots"] == []


def test_a_cancelled_export_leaves_no_snapshot(account, source, ctx):
    exp = exporter(account)
    vm = exp.get_instance(source.instance_id)
    reporter = NullReporter()
    reporter.cancelled = True
    with pytest.raises(Cancelled):
        exp.export_disk(vm, vm.disks[1], ctx, reporter)
    exp.cleanup(ctx)
    assert account.tagged(ctx.migration_id)["snapshots"] == []


def test_changed_blocks_between_syncs(account, source, ctx, tmp_path):
    exp = exporter(account)
    assert isinstance(exp, ChangeTracking) and isinstance(exp, DiskAreaReader)
    vm = exp.get_instance(source.instance_id)
    disk = vm.disks[1]
    ctx = type(ctx)(ctx.migration_id, ctx.instance, ctx.staging_dir, transfer_id="tr-1")
    first = exp.changed_areas(vm, disk, None, ctx)
    assert first.full and first.change_id.startswith("snap-")
    new_block = os.urandom(BLOCK)
    account.moto.guest_write(disk.id, 40, new_block)  # a block the first snapshot did not hold
    account.moto.guest_write(disk.id, 0, b"")          # a block that became zero
    exp = exporter(account)  # each sync has an exporter of its own, as each task does
    second = exp.changed_areas(vm, disk, first.change_id, ctx)
    assert not second.full and second.change_id != first.change_id
    assert second.extents == [(0, BLOCK), (40 * BLOCK, BLOCK)]
    pieces = list(exp.read_areas(vm, disk, [(0, 65536), (40 * BLOCK + 65536, 65536)], ctx))
    assert pieces == [(0, bytes(65536)), (40 * BLOCK + 65536, new_block[65536:131072])]
    # the committed base and the new snapshot are kept; a third sync drops the oldest
    third = exporter(account).changed_areas(vm, disk, second.change_id, ctx)
    assert third.extents == [] and first.change_id not in snapshots_of(account, disk.id)
    assert {second.change_id, third.change_id} <= set(snapshots_of(account, disk.id))
    exp.cleanup(ctx)  # a failed run: its uncommitted tracking snapshots go
    assert account.tagged(ctx.migration_id)["snapshots"] == []


def test_merge_blocks():
    assert merge_blocks([3, 1, 2, 9], 5 * BLOCK) == [(BLOCK, 3 * BLOCK)]
    assert merge_blocks([0, 4], 4 * BLOCK + 100) == [(0, BLOCK), (4 * BLOCK, 100)]
    assert MIB
