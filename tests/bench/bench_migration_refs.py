"""Reference timings for the migration benchmark: bare qemu-img + morph steps, and Debian's virt-v2v."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APT_BENCH = REPO / "deploy" / "packages" / "apt-bench.txt"
APT_TEST = REPO / "deploy" / "packages" / "apt-test.txt"
V2V_TIMEOUT = 900
GUESTFS_CACHE = Path("/var/tmp/.guestfs-0")


def _installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True, check=False
    )
    return out.returncode == 0 and out.stdout.strip() == "install ok installed"


def ensure_packages() -> dict[str, Any]:
    """Install the benchmark's Debian packages (apt-bench.txt, and apt-test.txt's kernel) when missing."""
    wanted = [ln.strip() for ln in APT_BENCH.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if "linux-image-amd64" not in wanted:
        wanted.append("linux-image-amd64")  # listed in apt-test.txt; libguestfs' appliance needs a kernel
    missing = [p for p in wanted if not _installed(p)]
    result: dict[str, Any] = {"wanted": wanted, "missing_before": missing, "seconds": 0.0}
    if not missing:
        return result
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "--no-install-recommends", *missing]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:  # stale package lists: refresh once and retry
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["rc"] = proc.returncode
    if proc.returncode != 0:
        result["error"] = (proc.stderr or proc.stdout)[-2000:]
    return result


def extract_vmdk(ova: Path, out_dir: Path) -> Path:
    """Copy the (first) VMDK member of ``ova`` into ``out_dir`` with tarfile; return its path."""
    with tarfile.open(ova, "r:") as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith(".vmdk"))
        out = out_dir / Path(member.name).name
        src = tar.extractfile(member)
        if src is None:
            raise RuntimeError(f"{ova}: cannot read {member.name}")
        with src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
    return out


def bare_steps(ova: Path, work: Path) -> dict[str, Any]:
    """Reference (a): tarfile extraction, ``qemu-img convert -f vmdk -O qcow2``, the same in-process morph."""
    from morphing import MorphOptions, morph
    from providers.ova.source import OvaExporter
    from providers.types import NullReporter, TargetProfile

    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    vmdk = extract_vmdk(ova, work)
    t1 = time.monotonic()
    qcow2 = work / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "qcow2", str(vmdk), str(qcow2)], check=True)
    t2 = time.monotonic()
    vm = OvaExporter(ova.parent).get_instance(ova.name)
    reporter = NullReporter()
    result = morph([(qcow2, "qcow2")], vm, TargetProfile(), MorphOptions(preserve_static_ips=True), reporter)
    t3 = time.monotonic()
    out = {
        "extract_s": round(t1 - t0, 2),
        "convert_s": round(t2 - t1, 2),
        "morph_s": round(t3 - t2, 2),
        "appliance_launch_s": result.timings.get("appliance_launch"),
        "morph_timings": result.timings,
        "total_s": round(t3 - t0, 2),
        "vmdk_bytes": vmdk.stat().st_size,
        "qcow2_allocated_bytes": qcow2.stat().st_blocks * 512,
        "morph_os": result.os_info.distribution,
        "morph_changes": len(result.changes),
    }
    vmdk.unlink(missing_ok=True)
    qcow2.unlink(missing_ok=True)
    return out


def _warm_appliance(env: dict[str, str]) -> dict[str, Any]:
    """Build libguestfs' appliance cache once (it is reused by every later launch), timed apart."""
    if any(GUESTFS_CACHE.glob("appliance.d/kernel")):
        return {"cached": True, "seconds": 0.0}
    started = time.monotonic()
    proc = subprocess.run(["libguestfs-test-tool"], env=env, capture_output=True, text=True, check=False,
                          timeout=600)
    return {"cached": False, "seconds": round(time.monotonic() - started, 1), "rc": proc.returncode}


def virt_v2v(ova: Path, work: Path) -> dict[str, Any]:
    """Reference (b): ``virt-v2v -i ova OVA -o local -os DIR -of qcow2`` under TCG; never raises on its failure."""
    out_dir = work / "v2v-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LIBGUESTFS_BACKEND": "direct", "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg",
           "TMPDIR": str(work)}
    result: dict[str, Any] = {"ok": False}
    if shutil.which("virt-v2v") is None:
        result["error"] = "virt-v2v is not installed (see the apt step)"
        return result
    try:
        result["appliance"] = _warm_appliance(env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        result["appliance"] = {"error": str(exc)}
    version = subprocess.run(["virt-v2v", "--version"], capture_output=True, text=True, check=False)
    result["version"] = version.stdout.strip()
    cmd = ["virt-v2v", "-i", "ova", str(ova), "-o", "local", "-os", str(out_dir), "-of", "qcow2"]
    log = work / "virt-v2v.log"
    started = time.monotonic()
    try:
        with open(log, "wb") as f:
            proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  check=False, timeout=V2V_TIMEOUT)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        rc = None
    result["seconds"] = round(time.monotonic() - started, 2)
    result["rc"] = rc
    text = log.read_text(errors="replace")
    result["warnings"] = [ln.strip()[:300] for ln in text.splitlines() if "warning" in ln.lower()][:8]
    disks = sorted(p for p in out_dir.iterdir() if p.is_file() and not p.name.endswith(".xml"))
    result["outputs"] = {p.name: p.stat().st_blocks * 512 for p in out_dir.iterdir()}
    if rc == 0 and disks:
        result["ok"] = True
    else:
        result["error"] = "timed out" if rc is None else f"exit status {rc}"
        result["log_tail"] = text.splitlines()[-25:]
    shutil.rmtree(out_dir, ignore_errors=True)
    return result
