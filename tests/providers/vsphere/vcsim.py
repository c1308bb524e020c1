"""vcsim, the govmomi vSphere simulator: built once from Debian's govmomi package, started per test session.

Debian ships the govmomi library (``golang-github-vmware-govmomi-dev``) but no ``vcsim`` command;
``vcsim_main.go`` beside this module is our launcher. The binary is cached under
``/var/tmp/coriolis-fixtures/vcsim-<hash of vcsim_main.go>/``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN_GO = HERE / "vcsim_main.go"
CACHE_ROOT = Path(os.environ.get("CORIOLIS_FIXTURE_CACHE", "/var/tmp/coriolis-fixtures"))
APT_PACKAGES = ("golang-go", "golang-github-vmware-govmomi-dev")
GOCODE = Path("/usr/share/gocode")
_READY = re.compile(r"VCSIM_URL=https://[^@]*@(?P<host>[\d.]+):(?P<port>\d+)/sdk PID=(?P<pid>\d+)")


def _install_packages() -> None:
    """Install Go and govmomi from Debian when missing (fails loudly when that is not possible)."""
    if shutil.which("go") and (GOCODE / "src/github.com/vmware/govmomi/simulator").is_dir():
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"vcsim needs the Debian packages {' '.join(APT_PACKAGES)}; install them as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["apt-get", "install", "-y", *APT_PACKAGES], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get install {' '.join(APT_PACKAGES)} failed:\n{proc.stderr[-2000:]}")


def ensure_vcsim() -> Path:
    """The vcsim binary, built from ``vcsim_main.go`` on first use (about 20 s) and cached."""
    digest = hashlib.sha256(MAIN_GO.read_bytes()).hexdigest()[:16]
    folder = CACHE_ROOT / f"vcsim-{digest}"
    binary = folder / "vcsim"
    if binary.exists():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        _install_packages()
        with tempfile.TemporaryDirectory(prefix="vcsim-build-") as work:
            source = Path(work) / "src" / "vcsim"
            source.mkdir(parents=True)
            shutil.copy(MAIN_GO, source / "main.go")
            env = {
                **os.environ, "GOPATH": f"{work}:{GOCODE}", "GO111MODULE": "off", "GOCACHE": f"{work}/cache",
                "GOFLAGS": "",
            }
            out = Path(work) / "vcsim"
            proc = subprocess.run(["go", "build", "-o", str(out), "vcsim"], capture_output=True, text=True,
                                  env=env, cwd=work)
            if proc.returncode != 0:
                raise RuntimeError(f"building vcsim failed:\n{proc.stderr[-3000:]}")
            shutil.move(out, binary.with_suffix(".tmp"))
            os.replace(binary.with_suffix(".tmp"), binary)
    return binary


@dataclass
class Vcsim:
    """A running simulator: its address, process and datastore directory."""

    host: str
    port: int
    process: subprocess.Popen[str]
    datastore_dir: Path | None = None

    @property
    def connection_info(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "username": "user", "password": "pass",
                "allow_untrusted": True}

    def stop(self) -> None:
        """SIGTERM (vcsim removes its datastore dirs), then SIGKILL if it lingers; remove leftovers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.datastore_dir is not None and self.datastore_dir.name.startswith("govcsim-"):
            shutil.rmtree(self.datastore_dir, ignore_errors=True)


def start_vcsim(binary: Path, log_path: Path, vms: int = 3, timeout: float = 20) -> Vcsim:
    """Start vcsim on a free 127.0.0.1 port (output to ``log_path``) and wait for its ready line."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(binary), "-listen", "127.0.0.1:0", "-vms", str(vms)], stdout=log, stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        match = _READY.search(log_path.read_text())
        if match:
            return Vcsim(match["host"], int(match["port"]), process)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"vcsim did not start:\n{log_path.read_text()}")
