"""Which accelerator the appliance uses: KVM when it really runs a kernel, TCG otherwise (probed once per host)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
from pathlib import Path

ACCELS = ("auto", "kvm", "tcg")
PROBE_FILE = "accel-probe.json"
PROBE_TIMEOUT = 15.0
# A working KVM boots a kernel without a root to its panic in about a second (TCG: ~6 s).
_BOOTED = ("Linux version", "Kernel panic", "VFS:")


def host_key(kernel: Path | None) -> dict[str, str]:
    """What a cached probe result is valid for: this boot of this host, this kernel and qemu."""
    boot_id = ""
    with contextlib.suppress(OSError):
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return {"boot_id": boot_id, "kernel": str(kernel or ""), "node": os.uname().nodename}


def newest_kernel(boot: Path = Path("/boot")) -> Path | None:
    """The newest readable host kernel (what supermin builds the appliance from)."""
    kernels = [p for p in boot.glob("vmlinuz-*") if os.access(p, os.R_OK)]
    return max(kernels, key=lambda p: p.stat().st_mtime) if kernels else None


def probe_kvm(kernel: Path, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Boot ``kernel`` (no root, panics at once) under KVM; usable when it gets there in time."""
    with tempfile.TemporaryDirectory(prefix="coriolis-kvm-probe-") as tmp:
        log = Path(tmp) / "serial.log"
        args = [
            "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults",
            "-display", "none", "-no-reboot", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1", "-serial", f"file:{log}",
        ]  # fmt: skip
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False, f"a kernel did not boot under KVM within {timeout:.0f} s"
        except OSError as exc:
            return False, f"qemu-system-x86_64 cannot run: {exc}"
        text = log.read_text(errors="replace") if log.exists() else ""
        if proc.returncode == 0 and any(mark in text for mark in _BOOTED):
            return True, "a kernel booted under KVM"
        return False, f"KVM probe failed (qemu exit {proc.returncode}): {(proc.stderr or text)[-200:].strip()}"


def choose_accel(setting: str, cache_dir: Path) -> tuple[str, str]:
    """The accelerator to use ("kvm" or "tcg") and why.

    Args:
        setting: ``appliance_accel``: "kvm" or "tcg" force one; "auto" probes KVM once per host
            boot (cached in ``cache_dir``; workers probing at once wait for one another).
        cache_dir: the appliance cache shared by the host's workers.
    """
    if setting not in ACCELS:
        raise ValueError(f"appliance_accel must be one of {', '.join(ACCELS)}, not {setting!r}")
    if setting != "auto":
        return setting, f"appliance_accel={setting}"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    kernel = newest_kernel()
    if kernel is None:
        return "tcg", "no readable kernel in /boot to probe KVM with"
    key = host_key(kernel)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / PROBE_FILE
    with open(cache_dir / ".accel-probe.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError):
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached["accel"], cached["why"] + " (probed earlier on this host)"
        usable, why = probe_kvm(kernel)
        accel = "kvm" if usable else "tcg"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "accel": accel, "why": why}))
        tmp.replace(path)
    return accel, why
