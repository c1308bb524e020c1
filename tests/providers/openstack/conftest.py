"""Fixtures for the openstack destination tests: real Keystone and Glance, the compute/network/volume fake."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from providers import netpolicy
from providers.openstack import PROVIDER
from providers.openstack.destination import OpenStackImporter
from providers.types import DiskInfo, MigrationContext, NicInfo, VmInfo
from tests.fixtures.glance import GlanceServer, glance  # noqa: F401 (session fixture)
from tests.fixtures.keystone import KeystoneServer, keystone  # noqa: F401 (session fixture)
from tests.fixtures.openstack_fake import FakeCloud, openstack_fake  # noqa: F401 (session fixture)

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    """Everything here listens on 127.0.0.1, which the SSRF guard refuses by default."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=True))


@dataclass
class Tenant:
    """A fresh project on the test cloud, its member user and a token, plus the networks made for it."""

    keystone: KeystoneServer
    glance: GlanceServer
    fake: FakeCloud
    project_id: str
    project_name: str
    username: str
    password: str
    networks: dict[str, str]

    def connection_info(self, **extra: object) -> dict[str, object]:
        return {"auth_url": self.keystone.url, "username": self.username, "password": self.password,
                "project_name": self.project_name, **extra}

    def token(self) -> str:
        return self.keystone.token(self.username, self.password, project_id=self.project_id)

    def importer(self, connection: dict | None = None, **target: object) -> OpenStackImporter:
        return PROVIDER.importer(connection or self.connection_info(), target)  # type: ignore[misc,return-value]

    def images(self) -> list[dict]:
        return self.glance.images(self.token())

    def listing(self, path: str, key: str) -> list[dict]:
        """A list from the fake, as a client sees it (``compute/v2.1/servers/detail``, ``servers``)."""
        url = f"{self.fake.url}/{path.replace('{p}', self.project_id)}"
        answer = requests.get(url, headers={"X-Auth-Token": self.token()}, timeout=30)
        answer.raise_for_status()
        return answer.json()[key]

    def leftovers(self, migration_id: str) -> dict[str, list[str]]:
        """Every image, server, port and volume that names ``migration_id`` (should be none after cleanup)."""
        return {
            "images": [i["name"] for i in self.images() if i.get("coriolis_migration_id") == migration_id],
            "servers": [s["name"] for s in self.listing("compute/v2.1/servers/detail", "servers")
                        if s["metadata"].get("coriolis_migration_id") == migration_id],
            "ports": [p["name"] for p in self.listing("network/v2.0/ports", "ports")
                      if migration_id in p["description"]],
            "volumes": [v["name"] for v in self.listing("volume/v3/{p}/volumes/detail", "volumes")
                        if v["metadata"].get("coriolis_migration_id") == migration_id],
        }


@pytest.fixture
def tenant(keystone, glance, openstack_fake) -> Tenant:  # noqa: F811
    suffix = uuid.uuid4().hex[:8]
    name, user, password = f"mig-{suffix}", f"migrator-{suffix}", uuid.uuid4().hex
    project_id = keystone.create_project(name)
    keystone.create_user(user, password, project_id, "member")
    networks = {n: openstack_fake.add_network(project_id, n) for n in ("prod-net", "backend-net")}
    return Tenant(keystone, glance, openstack_fake, project_id, name, user, password, networks)


@pytest.fixture
def ctx(tmp_path: Path) -> MigrationContext:
    staging = tmp_path / "staging"
    staging.mkdir()
    return MigrationContext(migration_id=f"mig{uuid.uuid4().hex[:8]}", instance="web-01", staging_dir=staging)


@pytest.fixture
def vm() -> VmInfo:
    return VmInfo(
        id="vm-42", name="web-01", num_cpu=2, memory_mb=1024,
        disks=(DiskInfo(id="disk-2000", size_bytes=32 * MIB), DiskInfo(id="disk-2001", size_bytes=16 * MIB)),
        nics=(NicInfo(mac_address="00:50:56:AB:CD:01", network_name="VM Network"),
              NicInfo(mac_address="00-50-56-ab-cd-02", network_name="backend")),
    )


def make_qcow2(path: Path, virtual_mib: int, data_mib: int) -> Path:
    """A qcow2 image of ``virtual_mib`` whose first ``data_mib`` hold random bytes (so the file is that big)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as out:
        out.write(uuid.uuid4().bytes * (data_mib * MIB // 16))
        out.truncate(virtual_mib * MIB)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()
    return path
