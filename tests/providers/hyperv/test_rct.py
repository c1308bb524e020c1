"""Resilient Change Tracking against the fake's documented WMI answers: reference points, changed extents."""

from __future__ import annotations

import pytest

from providers.abilities import ChangeTracking
from providers.hyperv import make_exporter
from providers.hyperv.rct import changes_script, parse_changes, split_change_id
from providers.scvmm import make_exporter as make_scvmm_exporter
from providers.types import ProviderError
from tests.fixtures.hyperv_model import FakeDisk, FakeVm
from tests.providers.hyperv.conftest import host_path


def test_hyperv_offers_change_tracking_and_scvmm_does_not(connection):
    assert isinstance(make_exporter(connection, {}), ChangeTracking)
    assert not isinstance(make_scvmm_exporter(connection, {}), ChangeTracking), "WMI lives on the Hyper-V hosts"


def test_changes_since_a_reference_point(model, connection, ctx):
    exporter = make_exporter(connection, {})
    vm = exporter.get_instance("app01")
    disk = vm.disks[1]
    first = exporter.changed_areas(vm, disk, None, ctx)
    assert first.full and first.change_id
    point, rct_id, superseded = split_change_id(first.change_id)
    assert point in model.vms[0].reference_points and rct_id and superseded == ""

    model.record_write("app01", 1, 1 << 20, 4096)
    model.record_write("app01", 1, (1 << 20) + 4096, 4096)  # adjacent: one extent
    model.record_write("app01", 1, 0, 512)
    second = exporter.changed_areas(vm, disk, first.change_id, ctx)
    assert not second.full and second.extents == [(0, 512), (1 << 20, 8192)]
    assert split_change_id(second.change_id)[2] == point

    third = exporter.changed_areas(vm, disk, second.change_id, ctx)
    assert not third.full and third.extents == []
    assert point not in model.vms[0].reference_points, "superseded once its successor was committed"
    assert len(model.vms[0].reference_points) == 2


def test_an_unknown_baseline_means_a_full_compare(model, connection, ctx):
    exporter = make_exporter(connection, {})
    vm = exporter.get_instance("app01")
    changes = exporter.changed_areas(vm, vm.disks[0], "Microsoft:GONE|rctX:gone|", ctx)
    assert changes.full and changes.change_id


@pytest.mark.parametrize("vm_name", ["old-config", "legacy"])
def test_no_rct_without_config_version_8_or_a_vhdx(model, connection, ctx, vm_name):
    model.add(FakeVm("old-config", [FakeDisk(host_path("app.vhdx"), 1)], version="5.0"))
    exporter = make_exporter(connection, {})
    vm = exporter.get_instance(vm_name)
    changes = exporter.changed_areas(vm, vm.disks[0], None, ctx)
    assert changes.full and changes.change_id == ""


def test_the_script_takes_only_a_guid_and_quoted_ids():
    with pytest.raises(ProviderError):
        changes_script("x'; Stop-Computer; '", "SCSI-0-0", None)
    text = changes_script("3d1c5a4e-0000-4000-8000-000000000002", "SCSI-0-1", "a|b'c|d")
    assert "$since = 'b''c'" in text and "$supersededPoint = 'd'" in text and "$controllerLocation = 1" in text


def test_answers_are_parsed_defensively():
    assert parse_changes([], None).full
    assert parse_changes([{"Supported": True, "ReferencePoint": "p", "RctId": "r", "Full": False,
                           "Offsets": 5, "Lengths": 10}], "q|s|").extents == [(5, 10)]
    assert parse_changes([{"Supported": True, "ReferencePoint": "p", "RctId": "r", "Full": False,
                           "Offsets": [1, 2], "Lengths": [3]}], "q|s|").full
