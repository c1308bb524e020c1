"""Disk data through an NFC export lease (``ExportVm``/``ExportSnapshot``): streamOptimized VMDKs.

The lease is waited to ``ready``, the disk's device URL is read with the session cookie (the
lease's ticket is part of the URL), ``HttpNfcLeaseProgress`` is sent while reading so the lease
does not time out, and the lease always ends: ``HttpNfcLeaseComplete`` after a good read,
``HttpNfcLeaseAbort`` after a failure or a cancel.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from providers import netpolicy
from providers.types import Cancelled, ProviderError, Reporter
from providers.vsphere.client import DeviceUrl, LeaseInfo, LeaseUnsupported, VsphereClient
from providers.vsphere.datastore import MIB, copy_response, remove
from providers.vsphere.devices import controller_slot

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0
READY_POLL_SECONDS = 0.2
SOURCE = "the export lease"

__all__ = ["LeaseUnsupported", "export_lease", "fetch_disk", "pick_device_url", "read_disk", "resolve_url"]


def _wait_ready(client: VsphereClient, lease: Any, timeout: float) -> LeaseInfo:
    deadline = time.monotonic() + timeout
    while True:
        state, error = client.lease_state(lease)
        if state == "ready":
            return client.lease_info(lease)
        if state == "error":
            raise ProviderError(f"the export lease failed: {error or 'no reason given'}")
        if state == "done":
            raise ProviderError("the export lease ended before it was ready")
        if time.monotonic() > deadline:
            raise ProviderError(f"the export lease was not ready within {timeout:.0f} s (state {state})")
        time.sleep(READY_POLL_SECONDS)


@contextmanager
def export_lease(client: VsphereClient, entity: Any, timeout: float = 600) -> Iterator[tuple[Any, LeaseInfo]]:
    """Open an export lease on ``entity`` (a VM, template or snapshot) and yield it once ready.

    The lease is completed when the block ends normally and aborted when it raises (also on
    ``Cancelled`` and while waiting for it to be ready): no lease is left open.

    Raises:
        LeaseUnsupported: the server has no export lease for this entity (raised before any lease exists).
    """
    lease = client.export_lease(entity)
    try:
        info = _wait_ready(client, lease, timeout)
        yield lease, info
    except BaseException as exc:
        cancelled = isinstance(exc, Cancelled | KeyboardInterrupt)
        reason = "cancelled by Coriolis" if cancelled else f"Coriolis export failed: {exc}"[:500]
        try:
            client.lease_abort(lease, reason, cancelled=cancelled)
        except Exception:  # the original error matters more; the server times the lease out anyway
            log.exception("could not abort the export lease")
        raise
    client.lease_complete(lease)


def pick_device_url(info: LeaseInfo, slot: str | None) -> DeviceUrl:
    """The device URL of the disk at ``slot`` (``ParaVirtualSCSIController0:1``, see ``devices.controller_slot``).

    A lease holding a single disk serves it whatever its key says.
    """
    disks = [d for d in info.device_urls if d.disk or d.url.endswith(".vmdk")]
    if slot:
        found = [d for d in disks if d.key.rsplit("/", 1)[-1] == slot]
        if len(found) == 1:
            return found[0]
    if len(disks) == 1:
        return disks[0]
    keys = ", ".join(d.key for d in disks) or "none"
    raise ProviderError(f"the export lease offers no URL for the disk at {slot or 'an unknown slot'} (disks: {keys})")


def resolve_url(client: VsphereClient, url: str) -> str:
    """The URL to read: ``*`` means the host we are connected to (on our port unless the URL names one).

    A URL naming another host (an ESXi host behind vCenter) must pass the endpoint host policy.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError("the export lease offered a URL that is not HTTP(S)")
    if parts.hostname == "*":
        host = f"[{client.host}]" if ":" in client.host else client.host
        netloc = f"{host}:{parts.port or client.port}"
        return urlunsplit((client.scheme, netloc, parts.path, parts.query, ""))
    try:
        netpolicy.check_host(parts.hostname)
    except netpolicy.HostNotAllowed as exc:
        raise ProviderError(f"the export lease points at a host that is not allowed: {exc}") from None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


class _LeaseKeeper:
    """A reporter that also sends ``HttpNfcLeaseProgress`` every ``interval`` seconds while data flows."""

    def __init__(
        self, reporter: Reporter, client: VsphereClient, lease: Any, expected: int, interval: float
    ) -> None:
        self.reporter = reporter
        self.client = client
        self.lease = lease
        self.expected = max(expected, 1)
        self.interval = interval
        self.last = time.monotonic()
        self.sent: list[int] = []

    def step(self, done: int, total: int | None, message: str = "") -> None:
        self.reporter.step(done, total, message)
        now = time.monotonic()
        if now - self.last >= self.interval:
            percent = min(99, done * 100 // self.expected)
            self.client.lease_progress(self.lease, percent)
            self.sent.append(percent)
            self.last = now

    def info(self, message: str) -> None:
        self.reporter.info(message)

    def warn(self, message: str) -> None:
        self.reporter.warn(message)


def fetch_disk(
    client: VsphereClient, lease: Any, device_url: DeviceUrl, out: Path, reporter: Reporter, label: str,
    capacity: int, *, chunk_size: int = 8 * MIB, progress_seconds: float = PROGRESS_SECONDS,
    timeout: float = 60,
) -> int:
    """Stream one device URL of a ready lease into ``out`` (a streamOptimized VMDK); returns its length.

    Args:
        client: the logged-in session (its cookie authorizes the read).
        lease: the ready lease.
        device_url: the disk's entry (``pick_device_url``).
        out: the file to write (the caller verifies and renames it, and removes it on failure).
        reporter: progress; ``Cancelled`` from it stops the read.
        label: names the disk in messages.
        capacity: the disk's size, the base of the lease's progress percentage.
        chunk_size: bytes per read.
        progress_seconds: how often ``HttpNfcLeaseProgress`` is sent.
        timeout: seconds without data before giving up.
    """
    url = resolve_url(client, device_url.url)
    keeper = _LeaseKeeper(reporter, client, lease, device_url.file_size or capacity, progress_seconds)
    with requests.Session() as session:
        cookie = client.session_cookie()
        if cookie:
            session.headers["Cookie"] = cookie
        try:
            response = session.get(url, stream=True, timeout=timeout, verify=not client.allow_untrusted)
        except requests.RequestException as exc:
            raise ProviderError(f"{label}: cannot read from {SOURCE}: {type(exc).__name__}") from None
        try:
            if response.status_code != 200:
                raise ProviderError(f"{label}: {SOURCE} answered HTTP {response.status_code}")
            reporter.info(f"{label}: reading {device_url.target_id or device_url.key} through {SOURCE}")
            written = copy_response(response, b"", out, keeper, label, device_url.file_size, chunk_size, SOURCE)
        finally:
            response.close()
    client.lease_progress(lease, 100)
    return written


def read_disk(
    client: VsphereClient, vm: Any, entity: Any, device_key: int, capacity: int, part: Path, reporter: Reporter,
    *, verify: Callable[[Path], bool], chunk_size: int = 8 * MIB, timeout: float = 600,
    progress_seconds: float = PROGRESS_SECONDS,
) -> Path:
    """Export disk ``device_key`` of ``vm`` through a lease on ``entity`` (the VM, template or a snapshot).

    Writes ``part`` (``<name>.vmdk.part``), checks it with ``verify`` while the lease is still
    open (a bad image aborts the lease), then renames it without ``.part``. On any failure the
    partial file is removed and the lease aborted.

    Raises:
        LeaseUnsupported: the server offers no export lease (nothing was written).
    """
    label = f"disk {device_key}"
    slot = controller_slot(vm.config.hardware.device, device_key)
    try:
        with export_lease(client, entity, timeout) as (lease, info):
            reporter.info(f"{label}: export lease ready")
            url = pick_device_url(info, slot)
            fetch_disk(client, lease, url, part, reporter, label, capacity, chunk_size=chunk_size,
                       progress_seconds=progress_seconds, timeout=min(timeout, 300))
            if not verify(part):
                raise ProviderError(f"{label}: {SOURCE} did not serve a {capacity}-byte VMDK")
        final = part.with_name(part.name.removesuffix(".part"))
        os.replace(part, final)
    except BaseException:
        remove(part)
        raise
    return final
