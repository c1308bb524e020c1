"""Disk export through an NFC export lease, against recorded SOAP answers and a fake device-URL server.

vcsim 0.24 has no ExportVm or ExportSnapshot (MethodNotFound), so ``ExportLeaseServer`` below
replays answers authored from the vSphere API reference (``recorded/export_lease_*.xml``) for the
SOAP calls, and is also a hand-written fake of the NFC device URLs (``GET /nfc/<ticket>/<file>``)
serving local files. It is a recording-based fake, not an emulator.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pyVmomi import vim

import conversion
from providers.types import Cancelled, NullReporter, ProviderError
from providers.vsphere import nfc
from providers.vsphere.client import DeviceUrl, LeaseInfo, LeaseUnsupported, VsphereClient
from tests.providers.vsphere.conftest import MIB, make_raw, make_vmdk

RECORDED = Path(__file__).resolve().parent / "recorded"
TICKET = "52e8a1f4-77c0-3b2d-91e6-0a4c5b6d7e8f"
PROPERTY_ANSWERS = {
    "info": "export_lease_info.xml",
    "error": "export_lease_error.xml",
    "config": "export_lease_vm_config.xml",
}
PLAIN_ANSWERS = {
    "RetrieveServiceContent": "export_lease_service_content.xml",
    "ExportVm": "export_lease_export_vm.xml",
    "ExportSnapshot": "export_lease_export_snapshot.xml",
    "HttpNfcLeaseProgress": "export_lease_progress.xml",
    "HttpNfcLeaseComplete": "export_lease_complete.xml",
    "HttpNfcLeaseAbort": "export_lease_abort.xml",
}


class ExportLeaseServer(ThreadingHTTPServer):
    """Replays recorded SOAP answers (POST) and fakes the lease's device URLs (GET), on 127.0.0.1.

    Args:
        files: the bytes each device URL serves (``disk-0.vmdk`` -> a local file).
    """

    def __init__(self, files: dict[str, Path]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.cookie = f'vmware_soap_session="{secrets.token_hex(16)}"'
        self.states = ["initializing", "ready"]  # answers to reads of lease.state; the last one repeats
        self.export_fault: str | None = None  # a recorded fault answering ExportVm / ExportSnapshot
        self.fail_after: int | None = None  # the device URL drops the connection after this many bytes
        self.calls: list[tuple[str, str]] = []  # (method or GET, detail)

    @property
    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


class _Handler(BaseHTTPRequestHandler):
    server: ExportLeaseServer

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", f"{self.server.cookie}; Path=/; HttpOnly")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        method = re.search(r"<soapenv:Body>\s*<(\w+)", body)[1]
        status, name, detail = 200, PLAIN_ANSWERS.get(method), ""
        if method == "RetrievePropertiesEx":
            detail = re.search(r"<pathSet>([\w.]+)</pathSet>", body)[1]
            if detail == "state":
                state = self.server.states.pop(0) if len(self.server.states) > 1 else self.server.states[0]
                name = f"export_lease_state_{state}.xml"
            else:
                name = PROPERTY_ANSWERS[detail]
        elif method in ("ExportVm", "ExportSnapshot"):
            detail = re.search(r"<_this[^>]*>([^<]*)</_this>", body)[1]
            if self.server.export_fault:
                status, name = 500, self.server.export_fault
        elif method == "HttpNfcLeaseProgress":
            detail = re.search(r"<percent>(\d+)</percent>", body)[1]
        elif method == "HttpNfcLeaseAbort":
            found = re.search(r'<fault xsi:type="(\w+)"', body)
            detail = found[1] if found else ""
        self.server.calls.append((method, detail))
        if name is None:
            status, name = 500, "export_lease_method_not_found.xml"
        self._send(status, (RECORDED / name).read_bytes(), "text/xml; charset=utf-8")

    def do_GET(self) -> None:
        match = re.fullmatch(rf"/nfc/{TICKET}/([\w.-]+)", self.path)
        self.server.calls.append(("GET", self.path))
        if self.headers.get("Cookie") != self.server.cookie:
            self._send(403, b"no session", "text/plain")
            return
        if not match or match[1] not in self.server.files:
            self._send(404, b"no such file", "text/plain")
            return
        data = self.server.files[match[1]].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.server.fail_after is not None:
            self.wfile.write(data[: self.server.fail_after])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(data)


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two source disks and their streamOptimized VMDKs (what an export lease serves)."""
    folder = tmp_path_factory.mktemp("nfc")
    out = {}
    for n in (0, 1):
        raw = make_raw(folder / f"disk-{n}.raw", 6 * MIB)
        out[f"raw{n}"] = raw
        out[f"disk-{n}.vmdk"] = make_vmdk(raw, folder / f"disk-{n}.vmdk", "streamOptimized")
    return out


@pytest.fixture
def server(disks: dict[str, Path]) -> Iterator[ExportLeaseServer]:
    srv = ExportLeaseServer({k: v for k, v in disks.items() if k.endswith(".vmdk")})
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server: ExportLeaseServer) -> VsphereClient:
    return VsphereClient.without_login("127.0.0.1", server.server_address[1])


def _verify(size: int):
    return lambda path: conversion.info(path, "vmdk").virtual_size == size


class CancellingReporter(NullReporter):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def step(self, done, total, message=""):
        super().step(done, total, message)
        if len(self.steps) >= self.at:
            self.cancelled = True


def test_export_vm_streams_the_disk_at_its_slot_converts_byte_identical_and_completes(
        server, client, disks, tmp_path):
    vm = client.vm_by_id("vm-57")
    part = tmp_path / "disk-2001.vmdk.part"
    reporter = NullReporter()
    final = nfc.read_disk(client, vm, vm, 2001, 6 * MIB, part, reporter, verify=_verify(6 * MIB),
                          chunk_size=64 * 1024, progress_seconds=0)
    assert final == tmp_path / "disk-2001.vmdk" and not part.exists()
    assert conversion.info(final, "vmdk").subformat == "streamOptimized"
    raw = tmp_path / "converted.raw"
    conversion.convert(final, "vmdk", raw, "raw")
    assert conversion.compare(raw, "raw", disks["raw1"], "raw", same_size=True)
    assert not conversion.compare(raw, "raw", disks["raw0"], "raw")

    assert ("ExportVm", "vm-57") in server.calls
    assert ("GET", f"/nfc/{TICKET}/disk-1.vmdk") in server.calls, "the disk at VirtualLsiLogicController0:1"
    states = [d for m, d in server.calls if m == "RetrievePropertiesEx" and d == "state"]
    assert len(states) == 2, "waited from initializing to ready"
    percents = [int(d) for m, d in server.calls if m == "HttpNfcLeaseProgress"]
    assert len(percents) >= 3 and percents == sorted(percents) and percents[-1] == 100
    assert server.methods[-1] == "HttpNfcLeaseComplete" and "HttpNfcLeaseAbort" not in server.methods
    assert reporter.steps and reporter.steps[-1][0] == disks["disk-1.vmdk"].stat().st_size


def test_export_snapshot_reads_through_a_lease_on_the_snapshot(server, client, disks, tmp_path):
    vm = client.vm_by_id("vm-57")
    snapshot = vim.vm.Snapshot("snapshot-58", vm._stub)
    final = nfc.read_disk(client, vm, snapshot, 2000, 6 * MIB, tmp_path / "disk-2000.vmdk.part", NullReporter(),
                          verify=_verify(6 * MIB))
    assert conversion.compare(final, "vmdk", disks["raw0"], "raw", same_size=True)
    assert ("ExportSnapshot", "snapshot-58") in server.calls and "ExportVm" not in server.methods
    assert ("GET", f"/nfc/{TICKET}/disk-0.vmdk") in server.calls
    assert server.methods[-1] == "HttpNfcLeaseComplete"


def test_a_read_that_breaks_aborts_the_lease_and_leaves_no_file(server, client, tmp_path):
    server.fail_after = 100_000
    vm = client.vm_by_id("vm-57")
    part = tmp_path / "disk-2000.vmdk.part"
    with pytest.raises(ProviderError, match="export lease"):
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, part, NullReporter(), verify=_verify(6 * MIB))
    assert ("HttpNfcLeaseAbort", "SystemError") in server.calls
    assert "HttpNfcLeaseComplete" not in server.methods
    assert list(tmp_path.iterdir()) == []


def test_cancel_mid_read_aborts_the_lease(server, client, tmp_path):
    vm = client.vm_by_id("vm-57")
    with pytest.raises(Cancelled):
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, tmp_path / "disk-2000.vmdk.part", CancellingReporter(2),
                      verify=_verify(6 * MIB), chunk_size=64 * 1024)
    assert ("HttpNfcLeaseAbort", "RequestCanceled") in server.calls
    assert "HttpNfcLeaseComplete" not in server.methods
    assert list(tmp_path.iterdir()) == []


def test_an_image_that_does_not_verify_aborts_the_lease(server, client, tmp_path):
    vm = client.vm_by_id("vm-57")
    with pytest.raises(ProviderError, match="did not serve"):
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, tmp_path / "disk-2000.vmdk.part", NullReporter(),
                      verify=_verify(8 * MIB))
    assert ("HttpNfcLeaseAbort", "SystemError") in server.calls
    assert list(tmp_path.iterdir()) == []


def test_a_lease_in_error_is_reported_and_aborted(server, client, tmp_path):
    server.states = ["initializing", "error"]
    vm = client.vm_by_id("vm-57")
    with pytest.raises(ProviderError, match="FileLocked"):
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, tmp_path / "d.vmdk.part", NullReporter(), verify=_verify(1))
    assert "GET" not in server.methods and server.methods[-1] == "HttpNfcLeaseAbort"


def test_a_server_without_export_leases_is_lease_unsupported(server, client, tmp_path):
    server.export_fault = "export_lease_method_not_found.xml"
    vm = client.vm_by_id("vm-57")
    with pytest.raises(LeaseUnsupported, match="ExportVm"):
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, tmp_path / "d.vmdk.part", NullReporter(), verify=_verify(1))
    assert "ExportVm" in server.methods
    assert not [m for m in server.methods if m.startswith("HttpNfcLease") or m == "GET"], "no lease, nothing to abort"


def test_other_export_faults_are_plain_provider_errors(server, client, tmp_path):
    server.export_fault = "export_lease_invalid_power_state.xml"
    vm = client.vm_by_id("vm-57")
    with pytest.raises(ProviderError, match="InvalidPowerState") as err:
        nfc.read_disk(client, vm, vm, 2000, 6 * MIB, tmp_path / "d.vmdk.part", NullReporter(), verify=_verify(1))
    assert not isinstance(err.value, LeaseUnsupported)


def test_device_urls_are_picked_by_slot_and_resolved_to_the_endpoint(client):
    info = LeaseInfo((
        DeviceUrl("/vm-1/VirtualLsiLogicController0:0", "https://*/nfc/t/disk-0.vmdk", True),
        DeviceUrl("/vm-1/VirtualLsiLogicController0:1", "https://*/nfc/t/disk-1.vmdk", True),
        DeviceUrl("/vm-1/nvram", "https://*/nfc/t/disk-2.nvram", False),
    ), 0, 300)
    assert nfc.pick_device_url(info, "VirtualLsiLogicController0:1").url.endswith("disk-1.vmdk")
    with pytest.raises(ProviderError, match="no URL"):
        nfc.pick_device_url(info, "ParaVirtualSCSIController1:0")
    single = LeaseInfo(info.device_urls[:1], 0, 300)
    assert nfc.pick_device_url(single, None).key.endswith("0:0")
    port = client.port
    assert nfc.resolve_url(client, "https://*/nfc/t/disk-0.vmdk") == f"http://127.0.0.1:{port}/nfc/t/disk-0.vmdk"
    with pytest.raises(ProviderError, match="not allowed"):
        nfc.resolve_url(client, "https://169.254.169.254/nfc/t/disk-0.vmdk")
    with pytest.raises(ProviderError, match="HTTP"):
        nfc.resolve_url(client, "file:///etc/passwd")
