"""Instance info as upstream clients read it: ``VmInfo.to_dict`` output made valid for upstream's format.

Upstream validates instance info against its ``vm_export_info`` format: optional fields are left out when
unset (``null`` is allowed only for a NIC's ``mac_address``), ``os_type`` is one of its words, every
controller has a ``bus_number``. ``schemas/vm_export_info.json`` states those constraints; the tests check
every document served against it.
"""

from __future__ import annotations

from typing import Any

OS_TYPES = frozenset({"bsd", "linux", "osx", "solaris", "windows", "other"})
DISK_FORMATS = frozenset({"vmdk", "raw", "qcow", "qcow2", "vhd", "vhdx"})
ALLOCATION_TYPES = frozenset({"static", "dynamic"})
NULLABLE_NIC_KEYS = frozenset({"mac_address"})


def _set(item: dict[str, Any], keep_null: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None or k in keep_null}


def _disk(disk: dict[str, Any]) -> dict[str, Any]:
    out = _set(disk)
    if out.get("format") not in DISK_FORMATS:
        out.pop("format", None)
    if out.get("allocation_type") not in ALLOCATION_TYPES:
        out.pop("allocation_type", None)
    return out


def _controller(controller: dict[str, Any]) -> dict[str, Any]:
    out = _set(controller)
    # upstream requires a bus number; a provider that does not know it has one controller of the kind
    out.setdefault("bus_number", 0)
    return out


def _os_type(value: Any) -> str:
    return value if value in OS_TYPES else "other"


def export_info(vm: dict[str, Any]) -> dict[str, Any]:
    """A whole instance (``GET .../instances/<id>``, a run's ``export_info``) in upstream's format."""
    out = _set(vm)
    out["os_type"] = _os_type(vm.get("os_type"))
    devices = dict(vm.get("devices") or {})
    out["devices"] = {
        "disks": [_disk(d) for d in devices.get("disks") or []],
        "nics": [_set(n, NULLABLE_NIC_KEYS) for n in devices.get("nics") or []],
        "controllers": [_controller(c) for c in devices.get("controllers") or []],
        "cdroms": [_set(c) for c in devices.get("cdroms") or []],
        "serial_ports": [_set(p) for p in devices.get("serial_ports") or []],
        "floppies": [_set(f) for f in devices.get("floppies") or []],
    }
    return out


def summary(vm: dict[str, Any]) -> dict[str, Any]:
    """An entry of an instance list (the summary fields) in upstream's types."""
    out = _set(vm)
    if "os_type" in out:
        out["os_type"] = _os_type(out["os_type"])
    return out


def run_info(info: dict[str, Any] | None, volumes: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """A transfer's or run's ``info``: per instance, upstream's ``{"export_info", "volumes_info"}``.

    ``volumes``: per instance, what is known of its disks at the destination (each with ``disk_id``).
    """
    out: dict[str, Any] = {}
    for instance, entry in (info or {}).items():
        vm = (entry or {}).get("vm")
        out[instance] = {
            "export_info": export_info(vm) if vm else {},
            "volumes_info": list((volumes or {}).get(instance, [])),
        }
    return out


def transfer_result(result: dict[str, Any] | None) -> dict[str, Any]:
    """A run's ``transfer_result``: per instance, what the destination made, with the keys upstream clients read
    (coriolis-web's details page reads ``devices.disks``, ``devices.nics`` and ``instance_name``).

    Our own keys (``boot``, ``details``, ``disks``...) stay beside them.
    """
    out: dict[str, Any] = {}
    for instance, made in (result or {}).items():
        if not isinstance(made, dict):
            out[instance] = made
            continue
        disks = [_set({"id": d.get("disk_id") or d.get("id"), "size_bytes": d.get("size_bytes"),
                       "format": d.get("format")}) for d in made.get("disks") or [] if isinstance(d, dict)]
        nics = [_set(n, NULLABLE_NIC_KEYS) for n in made.get("nics") or [] if isinstance(n, dict)]
        out[instance] = {
            **made,
            "instance_name": made.get("name") or made.get("id") or instance,
            "devices": {"disks": [_disk(d) for d in disks], "nics": nics},
        }
    return out
