"""Tests for conversion.nbdserver: exports always stop, whenever they are told to."""

from __future__ import annotations

from pathlib import Path

from conversion import nbdclient, nbdserver


def test_an_export_stopped_at_once_exits_on_sigterm(small_raw: Path) -> None:
    for _ in range(5):
        with nbdserver.qemu_nbd(small_raw, "raw") as export:
            pass
        assert export.proc.returncode in (0, -15)  # never the SIGKILL of a server that ignored SIGTERM


def test_an_export_dies_with_the_thread_that_started_it(small_raw: Path, tmp_path: Path) -> None:
    """A killed worker leaves no qemu-nbd holding an image open (the death signal is set in the child)."""
    import threading
    import time

    started: list[nbdserver.Export] = []
    managers: list[object] = []  # held, so that garbage collection never runs the manager's exit

    def start_and_vanish() -> None:
        manager = nbdserver.qemu_nbd(small_raw, "raw", scratch_dir=tmp_path)
        managers.append(manager)
        export = manager.__enter__()  # never exited
        started.append(export)
        nbdclient.export_size(export.wait())  # a handshake: its main loop runs, a SIGTERM now counts

    thread = threading.Thread(target=start_and_vanish)
    thread.start()
    thread.join()
    proc = started[0].proc
    for _ in range(200):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.returncode is not None, "qemu-nbd outlived the thread that started it"
