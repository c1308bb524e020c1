"""Changed-block tracking: enabling it against vcsim; QueryChangedDiskAreas against recorded SOAP answers.

vcsim 0.24 has no QueryChangedDiskAreas (MethodNotFound), so ``RecordedSoapServer`` below replays
answers authored from the vSphere API reference (``recorded/*.xml``). It is a recording-based fake,
not an emulator: it answers only that one method.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from providers.types import ProviderError
from providers.vsphere import cbt, make_exporter
from providers.vsphere.client import VsphereClient
from tests.providers.vsphere.conftest import HOT_VM, find_vm

RECORDED = Path(__file__).resolve().parent / "recorded"
DISK_SIZE = 6 << 20
# (changeId, startOffset) -> (HTTP status, recorded answer)
ANSWERS = {
    ("52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/12", 0): (200, "query_changed_disk_areas_window0.xml"),
    ("52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/12", 4194304): (200, "query_changed_disk_areas_window1.xml"),
    ("52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/14", 0): (200, "query_changed_disk_areas_no_change.xml"),
}


class RecordedSoapServer(ThreadingHTTPServer):
    """A recording-based fake of vCenter's /sdk for QueryChangedDiskAreas only (no emulator has it)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    server: RecordedSoapServer

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = {name: (re.search(rf"<{name}[^>]*>([^<]*)</{name}>", body) or [None, ""])[1]
                  for name in ("_this", "deviceKey", "startOffset", "changeId")}
        fields["method"] = "QueryChangedDiskAreas" if "<QueryChangedDiskAreas" in body else "other"
        self.server.requests.append(fields)
        key = (fields["changeId"], int(fields["startOffset"] or -1))
        status, name = ANSWERS.get(key, (500, "query_changed_disk_areas_bad_change_id.xml"))
        if fields["method"] != "QueryChangedDiskAreas":
            status, name = 500, "query_changed_disk_areas_bad_change_id.xml"
        data = (RECORDED / name).read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorded_server() -> Iterator[RecordedSoapServer]:
    server = RecordedSoapServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_enable_change_tracking_reconfigures_the_vm(vcsim, si, test_disks):
    exporter = make_exporter(vcsim.connection_info, {})
    vm = exporter.get_instance(HOT_VM)
    assert not find_vm(si, HOT_VM).config.changeTrackingEnabled
    assert exporter.enable_change_tracking(vm) is True
    assert find_vm(si, HOT_VM).config.changeTrackingEnabled
    assert exporter.enable_change_tracking(vm) is False


def test_changed_areas_walk_every_window_and_merge(recorded_server):
    client = VsphereClient.without_login("127.0.0.1", recorded_server.server_address[1])
    vm = client.vm_by_id("vm-57")
    change_id = "52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/12"
    areas = cbt.changed_areas(client, vm, 2000, DISK_SIZE, change_id)
    assert areas == [(0, 65536), (1048576, 196608), (6225920, 65536)]
    assert [(r["_this"], r["deviceKey"], r["startOffset"]) for r in recorded_server.requests] == [
        ("vm-57", "2000", "0"), ("vm-57", "2000", "4194304")]


def test_no_change_is_an_empty_list(recorded_server):
    client = VsphereClient.without_login("127.0.0.1", recorded_server.server_address[1])
    change_id = "52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/14"
    assert cbt.changed_areas(client, client.vm_by_id("vm-57"), 2000, DISK_SIZE, change_id) == []


def test_an_unknown_change_id_is_a_provider_error(recorded_server):
    client = VsphereClient.without_login("127.0.0.1", recorded_server.server_address[1])
    with pytest.raises(ProviderError, match="changeId"):
        cbt.changed_areas(client, client.vm_by_id("vm-57"), 2000, DISK_SIZE, "stale/1")


def test_a_disk_larger_than_the_answers_fails_instead_of_looping(recorded_server):
    client = VsphereClient.without_login("127.0.0.1", recorded_server.server_address[1])
    change_id = "52 7b 0e 5e 2e 2d 9c 16-4c 4b 9e 4f 8b 6b 7c 2a/12"
    # The disk is said to be larger than what the server covers: the walk must stop, not loop.
    with pytest.raises(ProviderError):
        cbt.changed_areas(client, client.vm_by_id("vm-57"), 2000, DISK_SIZE * 2, change_id)
