"""Disks to Cinder volumes through storage_mappings, against real Keystone/Glance and the Cinder fake."""

from __future__ import annotations

import dataclasses

import pytest

from providers.types import NullReporter, ProviderError
from tests.providers.openstack.test_destination import NET_MAP, staged_disk


def test_mapped_disks_become_volumes_of_their_type_and_the_boot_disk_boots_from_its_volume(tenant, ctx, vm, tmp_path):
    vm = dataclasses.replace(vm, disks=tuple(dataclasses.replace(d, storage_backend_identifier="LocalDS_0")
                                             for d in vm.disks))
    mappings = {"backend_mappings": [{"source": "LocalDS_0", "destination": "hdd"}],
                "disk_mappings": [{"disk_id": "disk-2000", "destination": "ssd"}]}
    importer = tenant.importer(network_map=NET_MAP, storage_mappings=mappings)
    importer.validate()
    disks = [importer.import_disk(vm, staged_disk(tmp_path, d.id), ctx, NullReporter()) for d in vm.disks]
    assert all(d.path.startswith("cinder:") for d in disks)
    instance = importer.create_instance(vm, disks, ctx, NullReporter())

    volumes = {v["id"]: v for v in tenant.listing("volume/v3/{p}/volumes/detail", "volumes")}
    boot, data = (volumes[d.path.removeprefix("cinder:")] for d in disks)
    assert (boot["volume_type"], data["volume_type"]) == ("ssd", "hdd")
    assert boot["status"] == data["status"] == "in-use"
    assert all(v["metadata"]["coriolis_migration_id"] == ctx.migration_id for v in (boot, data))
    request = tenant.fake.project(tenant.project_id).servers[instance.id]["request"]
    assert "imageRef" not in request
    assert [(m["uuid"], m["boot_index"]) for m in request["block_device_mapping_v2"]] == [
        (boot["id"], 0), (data["id"], -1)]
    assert tenant.leftovers(ctx.migration_id)["images"] == []  # the carrier images are gone
    importer.cleanup(ctx)
    assert tenant.leftovers(ctx.migration_id) == {"images": [], "servers": [], "ports": [], "volumes": []}


def test_an_unmapped_boot_disk_stays_an_image_and_a_mapped_data_disk_takes_its_type(tenant, ctx, vm, tmp_path):
    importer = tenant.importer(network_map=NET_MAP,
                               storage_mappings={"disk_mappings": [{"disk_id": "disk-2001", "destination": "hdd"}]})
    disks = [importer.import_disk(vm, staged_disk(tmp_path, d.id), ctx, NullReporter()) for d in vm.disks]
    assert disks[0].path.startswith("glance:") and disks[1].path.startswith("cinder:")
    instance = importer.create_instance(vm, disks, ctx, NullReporter())
    request = tenant.fake.project(tenant.project_id).servers[instance.id]["request"]
    assert request["imageRef"] == disks[0].path.removeprefix("glance:")
    volumes = {v["id"]: v for v in tenant.listing("volume/v3/{p}/volumes/detail", "volumes")}
    assert volumes[disks[1].path.removeprefix("cinder:")]["volume_type"] == "hdd"
    importer.cleanup(ctx)


def test_an_unknown_volume_type_is_a_clear_error(tenant):
    importer = tenant.importer(network_map=NET_MAP, storage_mappings={"default": "platinum"})
    with pytest.raises(ProviderError, match=r"volume type\(s\) platinum do not exist \(known: .*ssd"):
        importer.validate()
