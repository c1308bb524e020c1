"""`coriolis all-in-one`'s supervisor: a child that dies is restarted; one that keeps dying stops all."""

from __future__ import annotations

import os
import sys
import time

from coriolis import cli


def test_a_dead_child_is_restarted_and_a_crash_loop_stops_everything(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    steady = tmp_path / "steady"
    # "flaky" records each start and dies at once; "steady" keeps running until told to stop
    flaky = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"]
    keep = [sys.executable, "-c", f"import time; open({str(steady)!r}, 'a').write('x'); time.sleep(60)"]
    monkeypatch.setattr(cli, "MAX_RESTARTS_PER_MINUTE", 3)
    started = time.monotonic()
    code = cli._supervise({"flaky": flaky, "steady": keep}, dict(os.environ), poll=0.1)
    assert code == 3
    assert runs.read_text() == "x" * 4  # the first start and three restarts, then the supervisor gave up
    assert steady.read_text() == "x"  # the healthy child was never restarted, and was stopped at the end
    assert time.monotonic() - started < 30
