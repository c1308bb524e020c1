"""A read-only source folder migrates, and nothing is written into it (scratch lives in staging)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion import checksum
from tests.coriolis_tasks.helpers import wait_finished

VMX = """displayName = "ro"
numvcpus = "1"
memsize = "512"
guestOS = "debian12-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "ro.vmdk"
sata0.present = "TRUE"
sata0:1.present = "TRUE"
sata0:1.fileName = "data.vmdk"
"""


def _snapshot(folder: Path) -> dict[str, tuple[int, str, int]]:
    """Every entry of the folder: (size, sha256, mtime in ns) — any write shows."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(folder))] = (st.st_size, digest, st.st_mtime_ns)
    return out


@pytest.fixture()
def immutable_library(tmp_path: Path) -> Iterator[Path]:
    """A VMX folder with a flat and a sparse VMDK, made immutable (``chattr +i``: even root cannot write)."""
    folder = tmp_path / "library" / "ro"
    folder.mkdir(parents=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat",
                    str(folder / "ro.vmdk"), "16M"], check=True)
    with open(folder / "ro-flat.vmdk", "r+b") as fh:
        for at in range(0, 16 << 20, 3 << 20):
            fh.seek(at)
            fh.write(os.urandom(256 << 10))
    raw = tmp_path / "data.raw"
    with open(raw, "wb") as fh:
        fh.truncate(8 << 20)
        fh.seek(1 << 20)
        fh.write(os.urandom(1 << 20))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", str(raw), str(folder / "data.vmdk")],
                   check=True)
    (folder / "ro.vmx").write_text(VMX)
    paths = [*folder.iterdir(), folder]
    subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    try:
        yield tmp_path / "library"
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_vmx_folder_migrates_and_stays_untouched(live_client, workers, immutable_library, tmp_path):
    folder = immutable_library / "ro"
    with pytest.raises(PermissionError):
        (folder / "probe").write_bytes(b"x")  # the folder really is read-only, even for root
    before = _snapshot(folder)
    project = f"ro-{uuid.uuid4().hex[:8]}"
    body = {"migration": {
        "origin": {"type": "ova", "connection_info": {"path": str(immutable_library)}},
        "destination": {"type": "stub", "connection_info": {"storage_dir": str(tmp_path / "dest")}},
        "instances": ["ro"],
    }}
    resp = live_client.post(f"/v1/{project}/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    migration = wait_finished(live_client, project, resp.get_json()["migration"]["id"], 180)

    assert migration["status"] == "COMPLETED", migration["last_error"]
    assert _snapshot(folder) == before
    disks = migration["transfer_result"]["ro"]["disks"]
    sources = {"ro.vmdk": folder / "ro.vmdk", "data.vmdk": folder / "data.vmdk"}
    assert sorted(checksum(Path(d["path"]), d["format"]) for d in disks) == sorted(
        checksum(p, "vmdk") for p in sources.values()
    )
    convert = [t for t in migration["tasks"] if t["task_type"] == "CONVERT_DISK"]
    assert len(convert) == 2 and all(any("read once" in e["message"] for e in t["events"]) for t in convert)
