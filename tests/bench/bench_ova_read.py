"""An OVA's disk moved out of the tar three ways, side by side in one run, each from a cold page cache.

(a) bare: the VMDK extracted with tarfile, then ``qemu-img convert`` (no hashing at all);
(b) check, then convert: the member hashed against its manifest first, then converted in place in one
    pass (``conversion.onepass``), as EXPORT_DISK and CONVERT_DISK did before the manifest check moved;
(c) fused: the same pass with the manifest digest taken on another thread while it reads the member.

    .venv/bin/python tests/bench/bench_ova_read.py [--big] [--rounds 2]   (root: builds the guest)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conversion import Member  # noqa: E402
from conversion.member import _storage_reads  # noqa: E402
from conversion.onepass import copy_verified  # noqa: E402
from tests.bench.bench_migration import drop_cache  # noqa: E402
from tests.bench.bench_migration_growth import allocated_bytes, ensure_big_guest  # noqa: E402
from tests.fixtures.guest import ensure_guest  # noqa: E402

OUT = REPO / "var" / "bench" / "bench_ova_read.json"
MB = 1_000_000


def _member(ova: Path) -> tuple[Member, str]:
    with tarfile.open(ova) as tar:
        info = next(m for m in tar.getmembers() if m.name.endswith(".vmdk"))
    return Member(info.offset_data, info.size), info.name


def _manifest_digest(ova: Path, name: str) -> str:
    with tarfile.open(ova) as tar:
        mf = next(m for m in tar.getmembers() if m.name.endswith(".mf"))
        text = tar.extractfile(mf).read().decode()  # type: ignore[union-attr]
    for line in text.splitlines():
        if f"({name})" in line:
            algorithm = line.split("(", 1)[0].strip().lower()
            return f"{algorithm}:{line.rsplit('=', 1)[1].strip()}"
    raise RuntimeError(f"no manifest line for {name}")


def bare(ova: Path, work: Path) -> dict[str, Any]:
    started = time.monotonic()
    with tarfile.open(ova) as tar:
        info = next(m for m in tar.getmembers() if m.name.endswith(".vmdk"))
        with tar.extractfile(info) as src, open(work / "x.vmdk", "wb") as dst:  # type: ignore[union-attr]
            shutil.copyfileobj(src, dst, 8 << 20)
    subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "qcow2", str(work / "x.vmdk"), str(work / "b.qcow2")],
                   check=True)
    return {"seconds": round(time.monotonic() - started, 2)}


def check_then_convert(ova: Path, work: Path, member: Member, digest: str) -> dict[str, Any]:
    started = time.monotonic()
    algorithm, hexdigest = digest.split(":", 1)
    hasher = hashlib.new(algorithm)
    storage_before = _storage_reads()
    with open(ova, "rb") as f:
        done = 0
        while done < member.length:
            chunk = os.pread(f.fileno(), min(8 << 20, member.length - done), member.offset + done)
            hasher.update(chunk)
            done += len(chunk)
    assert hasher.hexdigest() == hexdigest
    checked = time.monotonic() - started
    manifest_storage = _storage_reads() - storage_before
    stats, _ = copy_verified(ova, "vmdk", work / "c.qcow2", "qcow2", member=member, scratch_dir=work)
    return {"seconds": round(time.monotonic() - started, 2), "manifest_s": round(checked, 2),
            "read_calls_mb": round((member.length + (stats.file_bytes_read or 0)) / MB),
            "storage_mb": round((manifest_storage + (stats.storage_bytes_read or 0)) / MB)}


def fused(ova: Path, work: Path, member: Member, digest: str) -> dict[str, Any]:
    started = time.monotonic()
    stats, _ = copy_verified(ova, "vmdk", work / "f.qcow2", "qcow2", member=member, member_digest=digest,
                             scratch_dir=work)
    return {"seconds": round(time.monotonic() - started, 2), "read_calls_mb": round((stats.file_bytes_read or 0) / MB),
            "storage_mb": round((stats.storage_bytes_read or 0) / MB)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--big", action="store_true", help="the 10 GiB OVA (2.6 GiB of data) instead of the base one")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    guest = ensure_guest()
    source = ensure_big_guest(guest).ova if args.big else guest.ova
    raw = ensure_big_guest(guest).raw if args.big else guest.raw
    work = Path(tempfile.mkdtemp(prefix="bench-ova-read-", dir="/var/tmp"))
    try:
        ova = work / "guest.ova"
        shutil.copyfile(source, ova)
        member, name = _member(ova)
        digest = _manifest_digest(ova, name)
        rows: dict[str, list[dict[str, Any]]] = {"bare": [], "check_then_convert": [], "fused": []}
        for _ in range(args.rounds):
            for label, run in (("bare", lambda: bare(ova, work)),
                               ("check_then_convert", lambda: check_then_convert(ova, work, member, digest)),
                               ("fused", lambda: fused(ova, work, member, digest))):
                drop_cache(ova)
                load = round(os.getloadavg()[0], 2)
                rows[label].append({**run(), "load": load})
                for f in work.glob("*.qcow2"):
                    f.unlink()
                (work / "x.vmdk").unlink(missing_ok=True)
        mean = {k: round(sum(r["seconds"] for r in v) / len(v), 2) for k, v in rows.items()}
        report = {"ova": str(source), "member_mb": round(member.length / MB),
                  "allocated_mb": round(allocated_bytes(raw) / MB), "runs": rows, "mean_s": mean,
                  "ratios": {"fused / bare": round(mean["fused"] / mean["bare"], 2),
                             "check_then_convert / bare": round(mean["check_then_convert"] / mean["bare"], 2),
                             "fused / check_then_convert": round(mean["fused"] / mean["check_then_convert"], 2)}}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
