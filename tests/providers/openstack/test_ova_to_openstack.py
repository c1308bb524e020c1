"""End to end through the REST API and real workers: the real Debian guest's OVA migrates to OpenStack.

Keystone and Glance are real; Nova, Neutron and Cinder are the hand-written fake. The workers run in
a fleet of their own (own queues and database) that may reach 127.0.0.1 endpoints.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from coriolis_tasks.pipeline import QUEUES
from tests.coriolis_tasks.fleets import Fleet, private_database
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.guest import ensure_guest, make_ova_copy
from tests.fixtures.guest.boot import boot
from tests.fixtures.openstack_nova import DEFAULT_CONSOLE

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(1800)]  # a real morph in the appliance (TCG)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with private_database("openstack") as url:
        nodes = {"all": (",".join(QUEUES), 3)}
        fleet = Fleet("openstack", url, nodes, {"CORIOLIS_ALLOW_PRIVATE_ENDPOINTS": "1"})
        try:
            fleet.start_api()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()


def migration_body(guest, library, tenant, **target) -> dict:
    return {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(library)}},
        "destination": {"type": "openstack", "connection_info": tenant.connection_info(), "target_environment": target},
        "network_map": {guest.network_name: "prod-net"},
        "instances": [guest.ova.name],
    }}


def test_ova_guest_migrates_to_openstack_and_boots(fleet, tenant, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    api = fleet.api
    body = migration_body(guest, library, tenant, flavor_name="m1.small", boot_timeout=30)
    resp = api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(api, project, mid, timeout=1200)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    instance = migration["transfer_result"][guest.ova.name]
    assert instance["boot"]["booted"] is True

    # the server: the mapped flavor, a port on the mapped network keeping the source MAC
    servers = [s for s in tenant.listing("compute/v2.1/servers/detail", "servers")
               if s["metadata"].get("coriolis_migration_id") == mid]
    assert len(servers) == 1 and servers[0]["status"] == "ACTIVE"
    assert servers[0]["flavor"]["original_name"] == "m1.small"
    ports = [p for p in tenant.listing("network/v2.0/ports", "ports") if p["device_id"] == servers[0]["id"]]
    assert [(p["network_id"], p["mac_address"]) for p in ports] == [(tenant.networks["prod-net"], guest.mac.lower())]

    # the Glance image holds the morphed guest: it boots from virtio with cloud-init set for OpenStack
    images = [i for i in tenant.images() if i.get("coriolis_migration_id") == mid]
    assert len(images) == 1 and servers[0]["image"]["id"] == images[0]["id"]
    assert images[0]["hw_disk_bus"] == "virtio" and images[0]["disk_format"] == "qcow2"
    image = tenant.glance.download(tenant.token(), images[0]["id"], tmp_path / "from-glance.qcow2")
    result = boot(image, "qcow2", "virtio", timeout=300)
    marker = result.marker()
    assert result.ok and marker, result.log_tail[-2000:]
    assert marker["rootdev"] == "/dev/vda1"
    assert marker["cloudinit"].startswith("OpenStack"), marker
    assert marker["vmtools"] == "no"

    # the password reached no log and no response
    assert tenant.password not in str(api.get(f"/v1/{project}/migrations/{mid}").get_json())
    for log in fleet.dir.glob("*.log"):
        assert tenant.password not in log.read_text(errors="replace"), log


def test_a_failed_migration_leaves_nothing_in_the_cloud(fleet, tenant, tmp_path):
    guest = ensure_guest()
    library = tmp_path / "ova-library"
    make_ova_copy(guest, library)
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    tenant.fake.default_console = "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n"
    try:
        body = migration_body(guest, library, tenant, boot_timeout=30)
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
    assert tenant.leftovers(mid) == {"images": [], "servers": [], "ports": [], "volumes": []}


def test_windows_guest_migrates_to_openstack_with_cloudbase_init(fleet, tenant, windows_toolkit, tmp_path):
    from tests.fixtures.windows.disk import build_windows_ova, ensure_disk
    from tests.fixtures.windows.inspect import read_back

    library = tmp_path / "ova-library"
    build_windows_ova(ensure_disk("2k19"), library, "win2k19")
    project = f"win-{uuid.uuid4().hex[:8]}"
    body = {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(library)}},
        "destination": {"type": "openstack", "connection_info": tenant.connection_info(),
                        "target_environment": {"flavor_name": "m1.small", "preserve_static_ips": True}},
        "network_map": {"VM Network": "prod-net"},
        "instances": ["win2k19.ova"],
    }}
    resp = fleet.api.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    mid = resp.get_json()["migration"]["id"]
    migration = wait_finished(fleet.api, project, mid, timeout=900)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    boot = migration["transfer_result"]["win2k19.ova"]["boot"]
    assert boot["checked"] is False and boot["message"].startswith("not checked (Windows)")

    # the server is ACTIVE on the converted image; the image holds the conversion for OpenStack
    servers = [s for s in tenant.listing("compute/v2.1/servers/detail", "servers")
               if s["metadata"].get("coriolis_migration_id") == mid]
    assert len(servers) == 1 and servers[0]["status"] == "ACTIVE"
    images = [i for i in tenant.images() if i.get("coriolis_migration_id") == mid]
    assert len(images) == 1 and images[0]["hw_disk_bus"] == "virtio"
    image = tenant.glance.download(tenant.token(), images[0]["id"], tmp_path / "win.qcow2")
    facts = read_back(image, images[0]["disk_format"])
    assert facts["viostor"]["Start"] == 0 and facts["boot_driver"] is True
    assert facts["scripts"][-1] == "40-install-cloudbase-init.cmd"
    assert {"CloudbaseInitSetup.msi", "cloudbase-init.conf"} <= set(facts["files"])
