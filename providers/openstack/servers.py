"""How a Nova server boots from the imported disks (a Glance image, or Cinder volumes through block device
mappings), how its console log tells that it booted, and how resources of a migration are named."""

from __future__ import annotations

import re
import time
from typing import Any

from providers.naming import cleaned_name
from providers.openstack.client import Cloud
from providers.types import BootResult, DiskRef, ProviderError, Reporter

FAILURE_RE = re.compile(r"Kernel panic|Gave up waiting for root|No bootable device|Boot failed")

# What an imported disk's DiskRef.path holds: the Glance image or Cinder volume made from it.
GLANCE, CINDER = "glance:", "cinder:"


def safe_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]``, with a short hash when characters were dropped."""
    return cleaned_name(name, r"[^A-Za-z0-9._-]+", strip="-.")


def made_from(disks: list[DiskRef]) -> dict[str, list[str]]:
    """The Glance image ids and Cinder volume ids the imported disks became, in disk order."""
    return {"image_ids": [d.path[len(GLANCE):] for d in disks if d.path.startswith(GLANCE)],
            "volume_ids": [d.path[len(CINDER):] for d in disks if d.path.startswith(CINDER)]}


def boot_source(disks: list[DiskRef]) -> dict[str, Any]:
    """``image_id`` and/or ``block_device_mapping`` for the disks (boot disk first)."""
    boot, rest = disks[0], disks[1:]
    mapping: list[dict[str, Any]] = []
    attrs: dict[str, Any] = {}
    if boot.path.startswith(GLANCE):
        attrs["image_id"] = boot.path[len(GLANCE):]
        if rest:
            mapping.append({"uuid": attrs["image_id"], "source_type": "image", "destination_type": "local",
                            "boot_index": 0, "delete_on_termination": True})
    else:
        mapping.append({"uuid": boot.path[len(CINDER):], "source_type": "volume", "destination_type": "volume",
                        "boot_index": 0, "delete_on_termination": False})
    for disk in rest:
        if not disk.path.startswith(CINDER):
            raise ProviderError(f"disk {disk.disk_id} is not a volume: only the boot disk can be an image")
        mapping.append({"uuid": disk.path[len(CINDER):], "source_type": "volume", "destination_type": "volume",
                        "boot_index": -1, "delete_on_termination": False})
    if mapping:
        attrs["block_device_mapping"] = mapping
    return attrs


def watch_console(cloud: Cloud, server_id: str, marker_regex: str, boot_timeout: float,
                  reporter: Reporter) -> BootResult:
    """The server is ACTIVE; when Nova gives a console log, ``marker_regex`` must show in it.

    Args:
        cloud: the destination project.
        server_id: the server.
        marker_regex: what a booted guest prints on its console.
        boot_timeout: seconds to wait for it (an empty console log by then counts as booted).
        reporter: progress while waiting; ``Cancelled`` propagates.
    """
    start = time.monotonic()
    server = cloud.get_server(server_id)
    if server is None or server.status != "ACTIVE":
        state = "is gone" if server is None else f"is {server.status} {server.fault}".rstrip()
        return BootResult(False, 0.0, f"server {server_id} {state}")
    marker = re.compile(marker_regex)
    console = ""
    while True:
        seconds = round(time.monotonic() - start, 2)
        output = cloud.console_output(server.id)
        if output is None:
            return BootResult(True, seconds, f"server {server.id} is ACTIVE (the cloud gives no console log)")
        console = output
        tail = console[-2048:]
        found = next((line for line in console.splitlines() if marker.search(line)), None)
        if found:
            return BootResult(True, seconds, f"server {server.id} is ACTIVE; console: {found.strip()}", tail)
        failure = FAILURE_RE.search(console)
        if failure:
            return BootResult(False, seconds, f"server {server.id} is ACTIVE but failed to boot: "
                                              f"{failure.group(0)}", tail)
        if seconds >= boot_timeout:
            if not console.strip():
                return BootResult(True, seconds, f"server {server.id} is ACTIVE (its console log stayed empty)")
            return BootResult(False, seconds, f"server {server.id} is ACTIVE but {marker_regex!r} "
                                              f"did not show on its console in {seconds:g} s", tail)
        reporter.step(int(seconds), int(boot_timeout), "waiting for the boot marker")
        time.sleep(min(5.0, max(0.5, boot_timeout / 60)))
