"""A hung appliance, a cancel and a SIGKILLed worker leave no qemu, overlay or socket behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from morphing import MorphOptions, morph
from morphing.appliance import Appliance, ApplianceConfig
from morphing.errors import MorphError
from morphing.sessions import SESSION_PREFIX, processes_mentioning, sweep_stale_sessions
from providers.types import Cancelled, NullReporter, TargetProfile
from tests.morphing.conftest import SYSLOG, make_vm

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def sessions_of(pid: int) -> set[Path]:
    return set(Path("/tmp").glob(f"{SESSION_PREFIX}{pid}-*"))


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def test_a_hanging_appliance_times_out_cleanly(phony_disks: list[tuple[Path, str]]) -> None:
    """The session timeout fires during the launch (what a hanging KVM does): a clean MorphError."""
    appliance = Appliance(phony_disks, NullReporter(), ApplianceConfig(timeout=2), readonly=True)
    started = time.monotonic()
    with pytest.raises(MorphError, match="exceeded its 2 s timeout and was killed"), appliance:
        pass
    assert time.monotonic() - started < 60
    assert appliance.expired and appliance.session.name.startswith(SESSION_PREFIX)
    assert not appliance.session.exists()
    assert processes_mentioning(str(appliance.session)) == []


class Freezer:
    """SIGSTOPs the appliance qemus of a session as they appear: what a kernel spinning in early boot looks like
    from outside (the launch never finishes). Freezes the first ``count`` of them."""

    def __init__(self, appliance: Appliance, count: int) -> None:
        self.appliance, self.count = appliance, count
        self.frozen: list[int] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.is_set() and len(self.frozen) < self.count:
            session = str(self.appliance.session)
            if session.startswith("/"):
                for pid in processes_mentioning(session):
                    if pid not in self.frozen and b"qemu-system" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(pid, signal.SIGSTOP)
                        self.frozen.append(pid)
            time.sleep(0.05)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def test_a_launch_that_hangs_is_killed_and_tried_again(phony_disks: list[tuple[Path, str]]) -> None:
    reporter = NullReporter()
    appliance = Appliance(phony_disks, reporter, ApplianceConfig(launch_timeout=75), readonly=True)
    freezer = Freezer(appliance, count=1)
    try:
        with appliance:
            assert appliance.inspection.os_type == "linux"
            assert appliance.tree.read("/var/log/syslog") == SYSLOG  # the second disk, mounted
    finally:
        freezer.stop()
    assert len(freezer.frozen) == 1 and not Path(f"/proc/{freezer.frozen[0]}").exists()
    warned = [m for level, m in reporter.events if level == "WARNING" and "did not come up" in m]
    assert warned == ["appliance: did not come up within 75 s (attempt 1 of 2): its qemu was killed; launching again"]
    assert appliance.launch_seconds >= 75
    assert not appliance.session.exists() and processes_mentioning(str(appliance.session)) == []


def test_launches_that_all_hang_fail_cleanly(phony_disks: list[tuple[Path, str]]) -> None:
    reporter = NullReporter()
    appliance = Appliance(phony_disks, reporter, ApplianceConfig(launch_timeout=3), readonly=True)
    freezer = Freezer(appliance, count=2)
    try:
        with pytest.raises(MorphError, match=r"did not come up within 3 s in 2 attempt\(s\)"), appliance:
            pass
    finally:
        freezer.stop()
    assert len(freezer.frozen) == 2 and not any(Path(f"/proc/{pid}").exists() for pid in freezer.frozen)
    assert not appliance.session.exists() and processes_mentioning(str(appliance.session)) == []


class CancelAt(NullReporter):
    """Cancels the migration when the morph reaches one concern."""

    def __init__(self, concern: str) -> None:
        super().__init__()
        self.concern = concern

    def step(self, done: int, total: int | None, message: str = "") -> None:
        if message == f"morph: {self.concern}":
            self.cancelled = True
        super().step(done, total, message)


def test_cancel_during_the_morph_leaves_nothing(phony_disks: list[tuple[Path, str]], tmp_path: Path) -> None:
    disk = tmp_path / "disk0.raw"
    shutil.copy(phony_disks[0][0], disk)
    before = sessions_of(os.getpid())
    qemus_before = set(processes_mentioning(f"{SESSION_PREFIX}{os.getpid()}-"))  # a shared session's
    reporter = CancelAt("network")
    with pytest.raises(Cancelled):
        morph([(disk, "raw")], make_vm(), TargetProfile(), MorphOptions(), reporter)
    # it got into the morph (guest tools were handled in the appliance) before the cancel
    assert any(m.startswith("appliance: launched in") for _, m in reporter.events)
    assert "morph: guest_tools" in [s[2] for s in reporter.steps]
    assert sessions_of(os.getpid()) - before == set()
    assert set(processes_mentioning(f"{SESSION_PREFIX}{os.getpid()}-")) <= qemus_before


WORKER = """
import sys, time
from pathlib import Path
from morphing.appliance import Appliance
from providers.types import NullReporter
with Appliance([(Path(sys.argv[1]), "raw")], NullReporter(), readonly=True) as a:
    print(a.session, flush=True)
    time.sleep(600)
"""


def test_a_sigkilled_worker_leaves_nothing(phony_disks: list[tuple[Path, str]]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(phony_disks[0][0])],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        session = Path(proc.stdout.readline().strip())
        assert session.name.startswith(f"{SESSION_PREFIX}{proc.pid}-") and session.is_dir()
        qemus = processes_mentioning(str(session))
        assert qemus, "the appliance's qemu names its session directory"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # libguestfs' recovery process kills the orphaned qemu
    assert wait_until(lambda: processes_mentioning(str(session)) == [], 60), processes_mentioning(str(session))
    # the next session on this host removes the dead worker's directory (sockets, overlay)
    assert str(session) in sweep_stale_sessions()
    assert not session.exists() and sessions_of(proc.pid) == set()
