"""Worker pools run at a lower CPU priority than the API: the real worker's processes, read from the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from coriolis import priority
from tests.conftest import STATE_DIR
from tests.coriolis_tasks.fleets import descendants


def _group_niceness(pid: int) -> int | None:
    return priority.autogroup_niceness(Path(f"/proc/{pid}/autogroup"))


def test_a_worker_started_in_its_own_session_yields_the_cpu_with_its_pool(tmp_path):
    base, ours = priority.niceness(), _group_niceness(os.getpid())
    log = tmp_path / "worker.log"
    env = {**os.environ, "CORIOLIS_WORKER_NICENESS": "7", "CORIOLIS_QUEUE_PREFIX": f"prio{uuid.uuid4().hex[:8]}-",
           "CORIOLIS_DATABASE_URL": f"sqlite:///{STATE_DIR / 'priority.sqlite'}"}
    argv = [sys.executable, "-m", "coriolis.cli", "worker", "-Q", "control", "-n", f"prio-{uuid.uuid4().hex[:6]}",
            "-c", "2"]
    with open(log, "wb") as out:
        # as systemd and the benchmark start it: a session of its own
        worker = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(descendants(worker.pid)) < 2 or b"ready" not in log.read_bytes():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the worker did not start its pool: {log.read_text()}"
            time.sleep(0.2)
        pids = [worker.pid, *descendants(worker.pid)]
        assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in pids} == {min(19, base + 7)}
        if ours is not None:  # a kernel grouping by session: the worker's group yields too, ours is untouched
            assert _group_niceness(worker.pid) == 7  # a new session's group starts at 0
            assert _group_niceness(os.getpid()) == ours
    finally:
        worker.terminate()
        worker.wait(30)


def _lower_in_child(by: int, own_session: bool) -> tuple[int, int | None, int | None]:
    code = textwrap.dedent(f"""
        import os
        from coriolis import priority
        print(priority.lower({by}), priority.autogroup_niceness(), os.getsid(0) == os.getpid())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         start_new_session=own_session).stdout.split()
    return int(out[0]), None if out[1] == "None" else int(out[1]), out[2] == "True"


def test_a_worker_sharing_the_apis_session_leaves_the_group_alone():
    base, group = priority.niceness(), _group_niceness(os.getpid())
    niceness, child_group, leader = _lower_in_child(5, own_session=False)
    assert not leader and niceness == min(19, base + 5)
    assert child_group == group == _group_niceness(os.getpid())  # the API's group (and ours) is untouched


def test_niceness_only_goes_up():
    base = priority.niceness()
    assert _lower_in_child(0, own_session=True)[0] == base
    assert _lower_in_child(40, own_session=True)[0] == 19
    assert priority.niceness() == base
