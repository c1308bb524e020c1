"""What the demo migrates: the real test guest (a Debian VM exported as a VMware OVA) to local KVM.

``--source stub`` migrates two synthetic VMs through the stub provider instead (no root needed).
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _ova_body(state: Path) -> dict:
    from tests.fixtures.guest import ensure_guest, make_ova_copy

    print("building or reusing the demo guest (a Debian 12 VM exported as a VMware OVA; ~80 s the first time)")
    guest = ensure_guest()
    library = state / "library" / "ova"  # the default roots local providers may use: <state_dir>/library/<type>
    shutil.rmtree(library, ignore_errors=True)
    library.mkdir(parents=True)
    make_ova_copy(guest, library)
    return {
        "migration": {
            "origin": {"type": "ova", "connection_info": {"path": str(library)}},
            "destination": {
                "type": "kvm",
                "connection_info": {"storage_dir": str(state / "library" / "kvm")},
                "target_environment": {"preserve_static_ips": True, "boot_timeout": 600},
            },
            "instances": [guest.ova.name],
        }
    }


def _stub_body(state: Path) -> dict:
    return {
        "migration": {
            "origin": {"type": "stub", "connection_info": {}},
            "destination": {
                "type": "stub",
                "connection_info": {"storage_dir": str(state / "library" / "stub")},
                "target_environment": {"disk_format": "qcow2", "rate_mbps": 64},
            },
            "source_environment": {"instance_disks": {"web-1": [256, 128], "db-1": [512]}, "rate_mbps": 64},
            "instances": ["web-1", "db-1"],
        }
    }


def build_body(kind: str, state: Path) -> dict:
    """The POST body of the demo migration."""
    return _ova_body(state) if kind == "ova" else _stub_body(state)
