"""Fixtures for the aws provider tests: a moto server (EC2 + EBS direct, gaps bridged) and an account's network."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from providers import netpolicy
from providers.aws.blocks import BLOCK
from providers.types import MigrationContext
from tests.fixtures.azure_arm_fake import azure_arm  # noqa: F401 (session fixture, AWS -> Azure)
from tests.fixtures.azurite import azurite  # noqa: F401 (session fixture, AWS -> Azure)
from tests.fixtures.moto_server import MotoServer, moto_server  # noqa: F401 (session fixture)

MIB = 1 << 20


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    """moto listens on 127.0.0.1, which the SSRF guard refuses by default."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


@dataclass
class Account:
    """A VPC with two subnets, a security group and a key pair in the moto account."""

    moto: MotoServer
    subnets: dict[str, str]
    security_group: str
    key_name: str

    def tagged(self, migration_id: str) -> dict[str, list[str]]:
        """Every live instance, volume, image and snapshot tagged with ``migration_id``."""
        ec2 = self.moto.client("ec2")
        flt = [{"Name": "tag:coriolis_migration_id", "Values": [migration_id]}]
        instances = [i["InstanceId"] for r in ec2.describe_instances(Filters=flt)["Reservations"]
                     for i in r["Instances"] if i["State"]["Name"] != "terminated"]
        return {
            "instances": instances,
            "volumes": [v["VolumeId"] for v in ec2.describe_volumes(Filters=flt)["Volumes"]],
            "images": [i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=flt)["Images"]],
            "snapshots": [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]],
        }


@pytest.fixture(scope="session")
def account(moto_server) -> Account:  # noqa: F811
    ec2 = moto_server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = {name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
               for name, cidr in (("prod", "10.20.1.0/24"), ("backend", "10.20.2.0/24"))}
    group = ec2.create_security_group(GroupName=f"mig-{uuid.uuid4().hex[:6]}", Description="migrated",
                                      VpcId=vpc)["GroupId"]
    key = f"key-{uuid.uuid4().hex[:6]}"
    ec2.create_key_pair(KeyName=key)
    return Account(moto_server, subnets, group, key)


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    staging = tmp_path / "staging"
    staging.mkdir()
    return MigrationContext(migration_id=f"mig{uuid.uuid4().hex[:8]}", instance="web-01", staging_dir=staging)


def make_raw(path: Path, size: int, blocks: dict[int, bytes | None]) -> Path:
    """A sparse raw disk of ``size`` bytes; ``blocks`` maps a 512 KiB block index to its bytes (None: random)."""
    with open(path, "wb") as out:
        out.truncate(size)
        for index, data in blocks.items():
            os.pwrite(out.fileno(), data if data is not None else os.urandom(BLOCK), index * BLOCK)
    return path


@dataclass
class SourceInstance:
    """An EC2 instance whose volumes hold known bytes (root and one data volume)."""

    instance_id: str
    name: str
    volumes: list[str]
    raws: list[Path]


def make_source_instance(account: Account, tmp_path: Path, name: str, sizes_mib: tuple[int, ...] = (24, 8),
                         raws: list[Path] | None = None) -> SourceInstance:
    """Volumes written through EBS direct from local raw files (``raws``, or made up ones of ``sizes_mib``),
    attached to a new instance (moto bridge 1 makes the instance's volumes carry those blocks)."""
    from providers.aws.blocks import file_blocks, volume_gib, write_snapshot
    from providers.aws.client import Aws
    from providers.aws.options import load_connection
    from providers.types import NullReporter

    aws = Aws(load_connection(account.moto.connection_info()))
    ec2 = account.moto.client("ec2")
    image = next(i for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if not i.get("Platform") and i.get("RootDeviceType") == "ebs")  # a Linux AMI
    if raws is None:
        raws = [make_raw(tmp_path / f"{name}-vol{n}.raw", mib * MIB, {0: None, 5: None, 2 * n + 9: None})
                for n, mib in enumerate(sizes_mib)]
    mappings = []
    for n, raw in enumerate(raws):
        size = raw.stat().st_size
        stats = write_snapshot(aws, file_blocks(raw, size), size, {"seed": name}, "seed", NullReporter(), "seed")
        mappings.append({"DeviceName": image["RootDeviceName"] if n == 0 else f"/dev/sd{'fgh'[n - 1]}",
                         "Ebs": {"SnapshotId": stats.snapshot_id, "VolumeSize": volume_gib(size),
                                 "DeleteOnTermination": True}})
    made = ec2.run_instances(ImageId=image["ImageId"], InstanceType="t3.small", MinCount=1, MaxCount=1,
                             SubnetId=account.subnets["prod"], BlockDeviceMappings=mappings,
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])
    instance = made["Instances"][0]
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    by_device = {m["DeviceName"]: m["Ebs"]["VolumeId"] for m in described["BlockDeviceMappings"]}
    return SourceInstance(instance["InstanceId"], name, [by_device[m["DeviceName"]] for m in mappings], raws)
