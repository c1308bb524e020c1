"""The openstack destination against a real Keystone and Glance, and the compute/network/volume fake."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from providers.abilities import TemplateImport
from providers.types import Cancelled, DiskRef, NullReporter, ProviderError
from tests.providers.openstack.conftest import MIB, make_qcow2

NET_MAP = {"VM Network": "prod-net", "backend": "backend-net"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staged_disk(tmp_path: Path, disk_id: str = "disk-2000", virtual_mib: int = 32, data_mib: int = 2) -> DiskRef:
    path = make_qcow2(tmp_path / f"{disk_id}.qcow2", virtual_mib, data_mib)
    return DiskRef(disk_id, str(path), "qcow2", virtual_mib * MIB)


def test_import_disk_uploads_an_identical_image_with_its_properties(tenant, ctx, vm, tmp_path):
    importer = tenant.importer(network_map=NET_MAP)
    disk = staged_disk(tmp_path)
    reporter = NullReporter()
    ref = importer.import_disk(vm, disk, ctx, reporter)

    assert ref.path.startswith("glance:") and ref.format == "qcow2" and ref.size_bytes == 32 * MIB
    image = next(i for i in tenant.images() if i["id"] == ref.path.removeprefix("glance:"))
    assert image["name"] == f"coriolis-{ctx.migration_id}-web-01-disk-2000"
    assert image["status"] == "active" and image["disk_format"] == "qcow2" and image["container_format"] == "bare"
    assert image["hw_disk_bus"] == "virtio" and image["hw_vif_model"] == "virtio"
    assert image["hw_firmware_type"] == "bios"
    assert image["coriolis_migration_id"] == ctx.migration_id
    assert image["size"] == Path(disk.path).stat().st_size
    downloaded = tenant.glance.download(tenant.token(), image["id"], tmp_path / "downloaded.qcow2")
    assert sha256(downloaded) == sha256(Path(disk.path))
    assert reporter.steps[-1][0] == reporter.steps[-1][1] == image["size"]

    # a repeated import (a redelivered task) finds the active image holding the same bytes
    again = importer.import_disk(vm, disk, ctx, NullReporter())
    assert again == ref
    assert [i["id"] for i in tenant.images() if i["name"] == image["name"]] == [image["id"]]


def test_import_disk_replaces_an_image_with_other_bytes(tenant, ctx, vm, tmp_path):
    importer = tenant.importer()
    first = importer.import_disk(vm, staged_disk(tmp_path / "a"), ctx, NullReporter())
    second = importer.import_disk(vm, staged_disk(tmp_path / "b"), ctx, NullReporter())
    assert first.path != second.path
    names = [i["id"] for i in tenant.images() if i.get("coriolis_migration_id") == ctx.migration_id]
    assert names == [second.path.removeprefix("glance:")]


class CancelAfter(NullReporter):
    """Cancels once ``limit`` bytes were reported."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.seen = 0

    def step(self, done: int, total: int | None, message: str = "") -> None:
        self.seen = done
        if done >= self.limit:
            self.cancelled = True
        super().step(done, total, message)


def test_cancel_mid_upload_deletes_the_partial_image(tenant, ctx, vm, tmp_path):
    disk = staged_disk(tmp_path, virtual_mib=40, data_mib=24)
    reporter = CancelAfter(8 * MIB)
    with pytest.raises(Cancelled):
        tenant.importer().import_disk(vm, disk, ctx, reporter)
    assert 0 < reporter.seen < Path(disk.path).stat().st_size  # cancelled mid-upload
    assert tenant.leftovers(ctx.migration_id)["images"] == []


def test_a_failed_delete_of_the_partial_image_is_tried_again(tenant, ctx, vm, tmp_path, monkeypatch):
    """Glance answered a delete right after an aborted upload with a 500 (its database locked): tried again."""
    importer = tenant.importer()
    delete = importer.cloud.delete_image
    failures = []

    def delete_once_failing(image_id: str) -> None:
        if not failures:
            failures.append(image_id)
            raise ProviderError(f"deleting image {image_id}: HTTP 500: database is locked")
        delete(image_id)

    monkeypatch.setattr(importer.cloud, "delete_image", delete_once_failing)
    reporter = CancelAfter(8 * MIB)
    with pytest.raises(Cancelled):
        importer.import_disk(vm, staged_disk(tmp_path, virtual_mib=40, data_mib=24), ctx, reporter)
    assert len(failures) == 1
    assert tenant.leftovers(ctx.migration_id)["images"] == []
    assert not [m for level, m in reporter.events if level == "WARNING"]


def test_create_instance_with_named_flavor_mapped_ports_and_macs(tenant, ctx, vm, tmp_path):
    tenant.fake.add_keypair(tenant.project_id, "ops-key")
    group = tenant.fake.add_security_group(tenant.project_id, "web")
    importer = tenant.importer(flavor_name="m1.small", network_map=NET_MAP, security_groups=["web"], key_name="ops-key")
    importer.validate()
    disk = importer.import_disk(vm, staged_disk(tmp_path), ctx, NullReporter())
    reporter = NullReporter()
    instance = importer.create_instance(vm, [disk], ctx, reporter)

    servers = tenant.listing("compute/v2.1/servers/detail", "servers")
    assert [s["id"] for s in servers] == [instance.id]
    server = servers[0]
    assert server["status"] == "ACTIVE" and server["name"] == f"coriolis-{ctx.migration_id}-web-01"
    assert server["flavor"]["original_name"] == "m1.small" and server["key_name"] == "ops-key"
    assert server["image"]["id"] == disk.path.removeprefix("glance:")
    assert server["metadata"] == {"coriolis_migration_id": ctx.migration_id, "coriolis_instance": "web-01"}
    assert any("waiting for server" in s[2] for s in reporter.steps)  # it was BUILD first
    ports = {p["id"]: p for p in tenant.listing("network/v2.0/ports", "ports")}
    created = [ports[p["id"]] for p in instance.details["ports"]]
    assert [(p["network_id"], p["mac_address"]) for p in created] == [
        (tenant.networks["prod-net"], "00:50:56:ab:cd:01"), (tenant.networks["backend-net"], "00:50:56:ab:cd:02")]
    assert all(p["device_id"] == instance.id and p["security_groups"] == [group] for p in created)

    result = importer.boot(instance, ctx, NullReporter())
    assert result.booted and instance.id in result.message and "login:" in result.message

    # a second run reuses the server and its ports
    again = importer.create_instance(vm, [disk], ctx, NullReporter())
    assert again.id == instance.id and len(tenant.listing("network/v2.0/ports", "ports")) == 2


def test_best_fit_flavor_and_new_macs(tenant, ctx, vm, tmp_path):
    importer = tenant.importer(network_map={"*": "prod-net"}, keep_mac_addresses=False)
    disk = importer.import_disk(vm, staged_disk(tmp_path), ctx, NullReporter())
    instance = importer.create_instance(vm, [disk], ctx, NullReporter())
    # 2 vCPUs and 1024 MB: c1.medium (2/1024/10) beats m1.medium (2/4096/40)
    assert instance.details["flavor_name"] == "c1.medium"
    macs = [p["mac_address"] for p in instance.details["ports"]]
    assert len(macs) == 2 and not any(m.startswith("00:50:56") for m in macs)
    assert {p["network_id"] for p in instance.details["ports"]} == {tenant.networks["prod-net"]}


def test_boot_from_volume_and_cleanup_leave_nothing(tenant, ctx, vm, tmp_path):
    importer = tenant.importer(network_map=NET_MAP, boot_from_volume=True)
    staged = [staged_disk(tmp_path, d.id) for d in vm.disks]
    disks = [importer.import_disk(vm, d, ctx, NullReporter()) for d in staged]
    assert all(d.path.startswith("cinder:") for d in disks)
    instance = importer.create_instance(vm, disks, ctx, NullReporter())
    assert instance.details["volume_ids"] == [d.path.removeprefix("cinder:") for d in disks]
    volumes = {v["id"]: v for v in tenant.listing("volume/v3/{p}/volumes/detail", "volumes")}
    assert all(volumes[d.path.removeprefix("cinder:")]["status"] == "in-use" for d in disks)
    left = tenant.leftovers(ctx.migration_id)
    assert left["images"] == [], left  # each image only carried its disk into a volume: deleted then
    assert left["servers"] and left["ports"] and left["volumes"], left

    # a redelivered import finds each volume holding the same bytes: no upload, no new volume
    again = NullReporter()
    assert importer.import_disk(vm, staged[1], ctx, again) == disks[1]
    assert any("already holds this disk" in m for _, m in again.events) and not again.steps

    importer.cleanup(ctx)
    assert tenant.leftovers(ctx.migration_id) == {"images": [], "servers": [], "ports": [], "volumes": []}
    importer.cleanup(ctx)  # safe to repeat


def test_a_template_is_kept_as_images_and_no_server_is_made(tenant, ctx, vm, tmp_path):
    importer = tenant.importer(network_map=NET_MAP)
    assert isinstance(importer, TemplateImport)
    template = dataclasses.replace(vm, is_template=True)
    disks = [importer.import_disk(template, staged_disk(tmp_path / d.id, d.id), ctx, NullReporter())
             for d in vm.disks]
    kept = importer.create_template(template, disks, ctx, NullReporter())
    assert kept.details["template"] is True
    assert kept.details["image_ids"] == [d.path.removeprefix("glance:") for d in disks if d.path.startswith("glance:")]
    assert kept.details["volume_ids"] == [d.path.removeprefix("cinder:") for d in disks if d.path.startswith("cinder:")]
    assert len(kept.details["image_ids"]) + len(kept.details["volume_ids"]) == len(vm.disks)
    mine = {i["id"] for i in tenant.images() if i.get("coriolis_migration_id") == ctx.migration_id}
    assert mine == set(kept.details["image_ids"]) and mine
    left = tenant.leftovers(ctx.migration_id)
    assert left["servers"] == [] and left["ports"] == [], left
    importer.cleanup(ctx)  # a failed or cancelled template migration leaves nothing either
    assert tenant.leftovers(ctx.migration_id) == {"images": [], "servers": [], "ports": [], "volumes": []}


def test_cleanup_spares_other_migrations(tenant, ctx, vm, tmp_path):
    importer = tenant.importer()
    importer.import_disk(vm, staged_disk(tmp_path), ctx, NullReporter())
    other = type(ctx)(migration_id=ctx.migration_id + "x", instance=ctx.instance, staging_dir=ctx.staging_dir)
    importer.import_disk(vm, staged_disk(tmp_path / "o"), other, NullReporter())
    importer.cleanup(ctx)
    assert tenant.leftovers(ctx.migration_id)["images"] == []
    assert len(tenant.leftovers(other.migration_id)["images"]) == 1
    importer.cleanup(other)


def test_unmapped_network_unknown_flavor_and_missing_key_are_clear_errors(tenant, ctx, vm, tmp_path):
    disk = tenant.importer().import_disk(vm, staged_disk(tmp_path), ctx, NullReporter())
    with pytest.raises(ProviderError, match="no entry for source network.*VM Network"):
        tenant.importer(network_map={"backend": "backend-net"}).create_instance(vm, [disk], ctx, NullReporter())
    with pytest.raises(ProviderError, match="flavor 'm9.huge' does not exist"):
        tenant.importer(flavor_name="m9.huge", network_map=NET_MAP).create_instance(vm, [disk], ctx, NullReporter())
    with pytest.raises(ProviderError, match="key pair 'nope' does not exist"):
        tenant.importer(key_name="nope", network_map=NET_MAP).validate()
    with pytest.raises(ProviderError, match="network 'no-such-net' does not exist"):
        tenant.importer(network_map={"VM Network": "no-such-net"}).validate()
    tenant.importer().cleanup(ctx)


def test_a_token_instead_of_a_password(tenant):
    info = {"auth_url": tenant.keystone.url, "token": tenant.token(), "project_id": tenant.project_id}
    importer = tenant.importer(info, network_map=NET_MAP)
    importer.validate()


def test_wrong_password_is_a_provider_error_without_the_password(tenant):
    importer = tenant.importer(tenant.connection_info(password="not-the-password-xyz"))
    with pytest.raises(ProviderError) as err:
        importer.validate()
    assert "not-the-password-xyz" not in str(err.value)


def test_loopback_keystone_is_refused_unless_allowed(tenant, monkeypatch):
    from providers import netpolicy

    monkeypatch.setattr(netpolicy, "_configured", netpolicy.HostPolicy(allow_private=False))
    with pytest.raises(ProviderError, match="loopback"):
        tenant.importer().validate()
