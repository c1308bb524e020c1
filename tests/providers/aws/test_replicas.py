"""The aws destination's snapshot replicas: a full write, then changed blocks over the committed snapshot."""

from __future__ import annotations

import os

import pytest

from conversion import checksum
from providers.aws import PROVIDER
from providers.aws.blocks import BLOCK, listed_blocks, regroup
from providers.types import DiskInfo, NullReporter, ProviderError
from tests.providers.aws.conftest import MIB, make_raw


def test_regroup_makes_whole_blocks():
    data = os.urandom(2 * BLOCK)
    pieces = [(0, data[:100]), (100, data[100:BLOCK + 7]), (BLOCK + 7, data[BLOCK + 7:])]
    assert list(regroup(pieces, 4 * BLOCK)) == [(0, data[:BLOCK]), (1, data[BLOCK:])]
    assert list(regroup([(4 * BLOCK, b"x" * 10)], 4 * BLOCK + 10)) == [(4, b"x" * 10 + bytes(BLOCK - 10))]
    with pytest.raises(ProviderError):
        list(regroup([(5, b"x")], 4 * BLOCK))


def test_changed_blocks_go_on_a_new_snapshot_over_the_committed_one(account, tmp_path):
    imp = PROVIDER.importer(account.moto.connection_info(), {})
    disk = DiskInfo("disk-0", 12 * MIB)
    raw = make_raw(tmp_path / "disk.raw", disk.size_bytes, {0: None, 4: None, 9: None})
    first = imp.write_replica("tr-9", "web", disk, None, raw, NullReporter())
    assert first.full and first.checksum == checksum(raw, "raw") and first.blocks_written == 3

    # the source changes: block 4 rewritten, block 9 zeroed, block 20 new
    new4 = os.urandom(BLOCK)
    with open(raw, "r+b") as fh:
        os.pwrite(fh.fileno(), new4, 4 * BLOCK)
        os.pwrite(fh.fileno(), bytes(BLOCK), 9 * BLOCK)
        os.pwrite(fh.fileno(), b"\x07" * BLOCK, 20 * BLOCK)
    pieces = [(4 * BLOCK, new4), (9 * BLOCK, bytes(BLOCK)), (20 * BLOCK, b"\x07" * BLOCK)]
    second = imp.write_replica("tr-9", "web", disk, first.location, iter(pieces), NullReporter())
    assert not second.full and second.blocks_written == 3 and second.bytes_written == 3 * BLOCK
    # moto ignores ParentSnapshotId; bridge 2 makes the new snapshot start from its parent's blocks, as EBS does
    back = tmp_path / "back.raw"
    assert imp.read_replica(second.location, disk.size_bytes, back, NullReporter()) == checksum(raw, "raw")
    assert checksum(back, "raw") == checksum(raw, "raw")

    imp.forget_replica(first.location)
    ec2 = account.moto.client("ec2")
    flt = [{"Name": "tag:coriolis_replica_transfer_id", "Values": ["tr-9"]}]
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]] == [
        second.location.removeprefix("ebs-snapshot:")]
    assert sorted(listed_blocks(imp.aws, second.location.removeprefix("ebs-snapshot:"))) == [0, 4, 9, 20]
    imp.delete_replicas("tr-9", "web")
    assert ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"] == []
