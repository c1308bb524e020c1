"""How a Nova server boots from the imported disks: a Glance image, or Cinder volumes (block device mappings)."""

from __future__ import annotations

from typing import Any

from providers.types import DiskRef, ProviderError

# What an imported disk's DiskRef.path holds: the Glance image or Cinder volume made from it.
GLANCE, CINDER = "glance:", "cinder:"


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
