"""The vsphere source's OptionLookup against vcsim: VM folders and clusters as inventory paths, and the
``folder``/``cluster`` options that filter the instance list by them."""

from __future__ import annotations

import socket
import uuid

import pytest

from providers.abilities import OptionLookup
from providers.types import ProviderError
from providers.vsphere import make_exporter
from tests.providers.vsphere.conftest import find_vm, wait_task

MOVED_VM = "DC0_C0_RP0_VM1"


def _datacenter(si):
    return next(e for e in si.RetrieveContent().rootFolder.childEntity if e.name == "DC0")


def test_folders_and_clusters_are_listed_and_filter_the_instances(vcsim, si, test_disks):
    dc = _datacenter(si)
    name = f"lookup-{uuid.uuid4().hex[:6]}"
    folder = dc.vmFolder.CreateFolder(name)
    vm = find_vm(si, MOVED_VM)
    home = vm.parent
    wait_task(folder.MoveIntoFolder_Task([vm]))
    try:
        exporter = make_exporter(vcsim.connection_info, {})
        assert isinstance(exporter, OptionLookup)
        options = {o["name"]: o for o in exporter.lookup_options(None)}
        assert list(options) == ["folder", "cluster"]
        assert {"DC0/vm", f"DC0/vm/{name}"} <= set(options["folder"]["values"])
        assert "DC0/host/DC0_C0" in options["cluster"]["values"]
        assert all("config_default" not in o for o in options.values())

        in_folder = make_exporter(vcsim.connection_info, {"folder": f"/DC0/vm/{name}/"}).list_instances()
        assert [v.name for v in in_folder] == [MOVED_VM]
        under_vm = {v.name for v in make_exporter(vcsim.connection_info, {"folder": "DC0/vm"}).list_instances()}
        assert MOVED_VM in under_vm and len(under_vm) > 1  # a folder lists what is below it too
        in_cluster = {v.name for v in make_exporter(vcsim.connection_info,
                                                    {"cluster": "DC0/host/DC0_C0"}).list_instances()}
        assert MOVED_VM in in_cluster and not any(n.startswith("DC0_H0_") for n in in_cluster)
    finally:
        wait_task(home.MoveIntoFolder_Task([vm]))
        wait_task(folder.Destroy_Task())
    assert exporter.lookup_options(frozenset({"templates"})) == []  # fixed choices are the schema's


def test_an_unreachable_endpoint_is_a_provider_error_without_the_password(vcsim):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = {**vcsim.connection_info, "port": port, "password": "not-the-password-42"}
    with pytest.raises(ProviderError) as err:
        make_exporter(down, {}).lookup_options(None)
    assert "not-the-password-42" not in str(err.value)
