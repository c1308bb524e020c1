"""End to end through the REST API and real workers: a vcsim VM holding the real Debian guest's disk
migrates to OpenStack (the seed's vmware_vsphere -> openstack body).

vcsim (govmomi's simulator) serves the VM, whose disks are VMDKs placed in its datastore; Keystone and
Glance are real; Nova, Neutron and Cinder are the hand-written fake. The VM has the guest's disk and a
small data disk, a NIC on "VM Network" (mapped to an existing network) and one on the distributed port
group DC0_DVPG0 (mapped to a network made for it).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from coriolis_tasks.pipeline import QUEUES
from morphing.appliance import Appliance
from providers.types import MigrationContext, NullReporter
from tests.coriolis_tasks.fleets import Fleet, private_database
from tests.coriolis_tasks.helpers import FINISHED, wait_finished, wait_for
from tests.fixtures.guest import ensure_guest
from tests.fixtures.guest.boot import boot
from tests.fixtures.openstack_nova import DEFAULT_CONSOLE
from tests.providers.vsphere.conftest import attach_disk, wait_task
from tests.providers.vsphere.vcsim import Vcsim, ensure_vcsim, start_vcsim

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(1800)]  # a real morph in the appliance (TCG)

VM_NAME = "coriolis-e2e-guest"
DVS_GROUP = "DC0_DVPG0"
DVS_MAC = "00:50:56:aa:bb:dd"
NEW_NET = {"create": True, "cidr": "10.20.30.0/24", "name": "migrated-dvpg"}


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with private_database("vsphere_openstack") as url:
        fleet = Fleet("vsphere-openstack", url, {"all": (",".join(QUEUES), 3)},
                      {"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "1"})
        try:
            fleet.start_api()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()


def _first(si: Any, kind: type, name: str | None = None) -> Any:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        return next(o for o in view.view if name is None or o.name == name)
    finally:
        view.Destroy()


def _nic(mac: str, backing: Any) -> vim.vm.device.VirtualDeviceSpec:
    card = vim.vm.device.VirtualVmxnet3(key=-1, addressType="manual", macAddress=mac, backing=backing,
                                        connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True))
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=card)


def make_source_vm(si: Any, datastore_dir: Path, guest: Any) -> dict[str, Any]:
    """A VM in vcsim with the guest's disk (sparse VMDK), a 16 MiB data disk and two NICs; powered on."""
    folder = datastore_dir / "coriolis-e2e"
    folder.mkdir()
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse",
                    str(guest.raw), str(folder / "guest.vmdk")], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicSparse",
                    str(folder / "data.vmdk"), "16M"], check=True)
    for name in ("guest", "data"):  # vcsim checks that a "<disk>-flat.vmdk" exists for any disk
        (folder / f"{name}-flat.vmdk").touch()
    datacenter = _first(si, vim.Datacenter)
    host = _first(si, vim.HostSystem)
    network = _first(si, vim.Network, "VM Network")
    group = _first(si, vim.dvs.DistributedVirtualPortgroup, DVS_GROUP)
    dvs_port = vim.dvs.PortConnection(portgroupKey=group.key, switchUuid=group.config.distributedVirtualSwitch.uuid)
    scsi = vim.vm.device.VirtualLsiLogicController(key=-2, busNumber=0, sharedBus="noSharing")
    spec = vim.vm.ConfigSpec(
        name=VM_NAME, guestId="debian10_64Guest", numCPUs=1, memoryMB=1024,
        files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"),
        deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="add", device=scsi),
            _nic(guest.mac, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
                deviceName="VM Network", network=network)),
            _nic(DVS_MAC, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=dvs_port)),
        ],
    )
    vm = wait_task(datacenter.vmFolder.CreateVM_Task(spec, host.parent.resourcePool, host))
    size = guest.raw.stat().st_size
    boot_key = attach_disk(si, vm, "[LocalDS_0] coriolis-e2e/guest.vmdk", size, 0)
    data_key = attach_disk(si, vm, "[LocalDS_0] coriolis-e2e/data.vmdk", 16 << 20, 1)
    wait_task(vm.PowerOnVM_Task())
    return {"boot_key": str(boot_key), "data_key": str(data_key), "size": size}


@pytest.fixture(scope="module")
def vcsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Vcsim, dict[str, Any]]]:
    """A vcsim of this module's own, holding the source VM."""
    guest = ensure_guest()
    server = start_vcsim(ensure_vcsim(), tmp_path_factory.mktemp("vcsim") / "vcsim.log")
    try:
        si = SmartConnect(host=server.host, port=server.port, user="user", pwd="pass",
                          disableSslCertValidation=True)
        try:
            server.datastore_dir = Path(_first(si, vim.Datastore).info.url)
            source = make_source_vm(si, server.datastore_dir, guest)
        finally:
            Disconnect(si)
        yield server, source
    finally:
        server.stop()


def seed_body(server: Vcsim, source: dict, tenant: Any, **target: Any) -> dict:
    """The seed's body: a vmware_vsphere origin, an openstack destination with flavor_name and a network_map."""
    return {"migration": {
        "origin": {"type": "vmware_vsphere", "connection_info": {
            "host": server.host, "port": server.port, "username": "user", "password": "pass",
            "allow_untrusted": True}},  # hot: both disks are read through one shared snapshot
        "destination": {"type": "openstack", "connection_info": tenant.connection_info(),
                        "target_environment": {"flavor_name": "m1.small", "boot_timeout": 30, **target}},
        "network_map": {"VM Network": "prod-net", DVS_GROUP: NEW_NET},
        "storage_mappings": {"disk_mappings": [{"disk_id": source["data_key"], "destination": "ssd"}]},
        "instances": [VM_NAME],
    }}


def made_networks(tenant: Any, migration_id: str) -> list[dict]:
    return [n for n in tenant.listing("network/v2.0/networks", "networks") if migration_id in n["description"]]


def nothing_left(tenant: Any, migration_id: str) -> None:
    assert tenant.leftovers(migration_id) == {"images": [], "servers": [], "ports": [], "volumes": []}
    assert made_networks(tenant, migration_id) == []
    assert [s for s in tenant.listing("network/v2.0/subnets", "subnets") if migration_id in s["description"]] == []


def test_vsphere_vm_migrates_to_openstack_through_the_service(fleet, vcsim, tenant, tmp_path):
    server, source = vcsim
    guest = ensure_guest()
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    api = fleet.api
    resp = api.post(f"/v1/{project}/migrations", json=seed_body(server, source, tenant))
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(api, project, mid, timeout=1200)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert migration["transfer_result"][VM_NAME]["boot"]["booted"] is True
    si = SmartConnect(host=server.host, port=server.port, user="user", pwd="pass", disableSslCertValidation=True)
    try:  # read hot through one snapshot, which is gone; the VM still runs
        vm = _first(si, vim.VirtualMachine, VM_NAME)
        assert vm.snapshot is None and vm.runtime.powerState == "poweredOn"
    finally:
        Disconnect(si)

    # the server: the mapped flavor, the image, the data disk as an ssd volume, every resource tagged
    servers = [s for s in tenant.listing("compute/v2.1/servers/detail", "servers")
               if s["metadata"].get("coriolis_migration_id") == mid]
    assert len(servers) == 1 and servers[0]["status"] == "ACTIVE"
    assert servers[0]["flavor"]["original_name"] == "m1.small"
    request = tenant.fake.project(tenant.project_id).servers[servers[0]["id"]]["request"]
    images = [i for i in tenant.images() if i.get("coriolis_migration_id") == mid]
    assert len(images) == 1 and request["imageRef"] == images[0]["id"]
    volumes = [v for v in tenant.listing("volume/v3/{p}/volumes/detail", "volumes")
               if v["metadata"].get("coriolis_migration_id") == mid]
    assert [(v["volume_type"], v["size"], v["status"]) for v in volumes] == [("ssd", 1, "in-use")]
    assert [m["uuid"] for m in request["block_device_mapping_v2"] if m["source_type"] == "volume"] == [
        volumes[0]["id"]]

    # the ports: the source MACs, on the mapped network and on the network made for the DVS port group
    made = made_networks(tenant, mid)
    assert [(n["name"], n["description"]) for n in made] == [
        ("migrated-dvpg", f"coriolis_migration_id={mid} coriolis_source_network={DVS_GROUP}")]
    subnets = [s["cidr"] for s in tenant.listing("network/v2.0/subnets", "subnets") if s["network_id"] == made[0]["id"]]
    assert subnets == ["10.20.30.0/24"]
    ports = [p for p in tenant.listing("network/v2.0/ports", "ports") if p["device_id"] == servers[0]["id"]]
    assert sorted((p["network_id"], p["mac_address"]) for p in ports) == sorted([
        (tenant.networks["prod-net"], guest.mac.lower()), (made[0]["id"], DVS_MAC)])
    assert all(mid in p["description"] for p in ports)

    # the Glance image holds the morphed guest: cloud-init set for OpenStack, and it boots from virtio
    image = tenant.glance.download(tenant.token(), images[0]["id"], tmp_path / "from-glance.qcow2")
    assert images[0]["hw_disk_bus"] == "virtio" and images[0]["disk_format"] == "qcow2"
    with Appliance([(image, "qcow2")], NullReporter(), readonly=True) as look:
        cfg = look.tree.read("/etc/cloud/cloud.cfg.d/99_coriolis.cfg") or ""
    assert "datasource_list: [OpenStack, ConfigDrive, None]" in cfg
    result = boot(image, "qcow2", "virtio", timeout=300)
    marker = result.marker()
    assert result.ok and marker, result.log_tail[-2000:]
    assert marker["rootdev"] == "/dev/vda1" and marker["cloudinit"].startswith("OpenStack"), marker

    # no secret in the responses or the logs
    shown = str(api.get(f"/v1/{project}/migrations/{mid}").get_json())
    assert tenant.password not in shown and "'pass'" not in shown
    for log in fleet.dir.glob("*.log"):
        assert tenant.password not in log.read_text(errors="replace"), log

    # deleting the migration record keeps what it made (the migrated server is in use, as upstream);
    # removing the instance (what deleting a test deployment does) leaves nothing, the made network too
    assert api.delete(f"/v1/{project}/migrations/{mid}").status_code == 204
    assert tenant.leftovers(mid)["servers"] and made_networks(tenant, mid)
    tenant.importer().cleanup(MigrationContext(mid, VM_NAME, tmp_path))
    nothing_left(tenant, mid)


def test_an_injected_failure_leaves_nothing_in_the_cloud(fleet, vcsim, tenant):
    server, source = vcsim
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    tenant.fake.default_console = "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n"
    try:
        body = seed_body(server, source, tenant)
        body["migration"]["skip_os_morphing"] = True
        resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
        assert resp.status_code == 202, resp.get_json()
        mid = resp.get_json()["migration"]["id"]
        migration = wait_finished(fleet.api, project, mid, timeout=1200)
    finally:
        tenant.fake.default_console = DEFAULT_CONSOLE
    assert migration["status"] == "ERROR" and "Kernel panic" in migration["last_error"]
    cleanup = [t for t in migration["tasks"] if t["task_type"] == "CLEANUP_INSTANCE_RESOURCES"]
    assert cleanup and all(t["status"] == "COMPLETED" for t in cleanup), cleanup
    nothing_left(tenant, mid)


def test_a_cancel_while_booting_leaves_nothing_in_the_cloud(fleet, vcsim, tenant):
    server, source = vcsim
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    tenant.fake.default_console = "booting...\n"  # no marker: the boot check waits
    try:
        body = seed_body(server, source, tenant, boot_timeout=600)
        body["migration"]["skip_os_morphing"] = True
        resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
        assert resp.status_code == 202, resp.get_json()
        mid = resp.get_json()["migration"]["id"]
        booting = wait_for(fleet.api, project, mid, timeout=900, until=lambda m: m["status"] in FINISHED or any(
            t["task_type"] == "BOOT_INSTANCE" and t["status"] == "RUNNING" for t in m["tasks"]))
        assert booting["status"] not in FINISHED, booting["last_error"]
        assert made_networks(tenant, mid) and tenant.leftovers(mid)["servers"]  # all made before the cancel
        assert fleet.api.post(f"/v1/{project}/migrations/{mid}/actions", json={"cancel": None}).status_code < 300
        migration = wait_finished(fleet.api, project, mid, timeout=300)
    finally:
        tenant.fake.default_console = DEFAULT_CONSOLE
    assert migration["status"] == "CANCELED", migration["last_error"]
    nothing_left(tenant, mid)
