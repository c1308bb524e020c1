"""What the demo migrates: the stub provider (until the real OVA -> KVM path is wired in)."""

from __future__ import annotations

from pathlib import Path


def build_body(kind: str, state: Path) -> dict:
    """The POST body of the demo migration."""
    return {
        "migration": {
            "origin": {"type": "stub", "connection_info": {}},
            "destination": {
                "type": "stub",
                "connection_info": {"storage_dir": str(state / "destination")},
                "target_environment": {"disk_format": "qcow2", "rate_mbps": 64},
            },
            "source_environment": {"instance_disks": {"web-1": [256, 128], "db-1": [512]}, "rate_mbps": 64},
            "instances": ["web-1", "db-1"],
        }
    }
