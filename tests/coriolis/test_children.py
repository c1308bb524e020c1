"""coriolis.children: a helper process dies with the thread that started it, and never blocks on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coriolis.children import spawn_tied


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return bool(stat) and stat.split(") ", 1)[1][0] != "Z"


def test_the_child_dies_when_its_starting_process_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # a parent that starts a long sleeper through spawn_tied, records its pid, then waits to be killed
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, time
        from coriolis.children import spawn_tied
        child = spawn_tied(["sleep", "300"], subprocess.DEVNULL)
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(300)
    """)], cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the parent never started its child"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived the process that started it"
        time.sleep(0.05)


def test_a_chatty_child_never_blocks_on_its_stderr(tmp_path: Path) -> None:
    # 1 MiB on stderr: an unread pipe (64 KiB) would stop it; a file takes it all
    with (tmp_path / "err").open("w+b") as err:
        proc = spawn_tied(["sh", "-c", "head -c 1048576 /dev/zero >&2; echo done >&2"], err)
        assert proc.wait(timeout=30) == 0
        err.seek(0)
        assert err.read().endswith(b"done\n")


def test_a_missing_program_is_refused_before_anything_starts() -> None:
    with pytest.raises(FileNotFoundError):
        spawn_tied(["coriolis-no-such-program"], subprocess.DEVNULL)
