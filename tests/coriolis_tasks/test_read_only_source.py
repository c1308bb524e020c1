"""A read-only source library migrates, and the migration writes nothing into it.

The library is made read-only (directory 0555, files 0444) without a mount; since tests may run as
root, for whom modes do not stop writes, the test also checks the library's listing, its directory
mtime and each file's digest and mtime before and after.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from tests.coriolis_tasks.helpers import wait_for
from tests.providers.ova.appliance import MIB, make_raw, make_vmdk, simple_ova


def _state(library: Path) -> dict[str, object]:
    files = sorted(p for p in library.rglob("*"))
    return {
        "dir": library.stat().st_mtime_ns,
        "files": {str(p.relative_to(library)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns,
                                               p.stat().st_mode & 0o777) for p in files if p.is_file()},
    }


def test_a_read_only_ova_library_migrates_untouched(live_client, workers, tmp_path) -> None:
    work = tmp_path / "build"
    work.mkdir()
    vmdk = make_vmdk(make_raw(work / "disk.raw", 8 * MIB, 3 * MIB), work / "disk.vmdk")
    library = tmp_path / "library"
    library.mkdir()
    simple_ova(library / "web.ova", vmdk, 8 * MIB)
    (library / "web.ova").chmod(0o444)
    library.chmod(0o555)
    before = _state(library)
    project = f"ro-{uuid.uuid4().hex[:8]}"
    body = {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(library)}},
        "destination": {"type": "stub", "connection_info": {"storage_dir": str(tmp_path / "dest")},
                        "target_environment": {"disk_format": "qcow2"}},
        "instances": ["web.ova"],
    }}
    try:
        resp = live_client.post(f"/v1/{project}/migrations", json=body)
        assert resp.status_code == 202, resp.get_json()
        mid = resp.get_json()["migration"]["id"]
        migration = wait_for(live_client, project, mid, lambda m: m["status"] in ("COMPLETED", "ERROR", "CANCELED"))
        assert migration["status"] == "COMPLETED", migration["last_error"]
        assert _state(library) == before
        assert list((tmp_path / "dest").rglob("*.qcow2"))  # the disk did arrive
    finally:
        library.chmod(0o755)
