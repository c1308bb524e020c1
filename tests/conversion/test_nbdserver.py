"""Tests for conversion.nbdserver: exports always stop, whenever they are told to."""

from __future__ import annotations

from pathlib import Path

from conversion import nbdserver


def test_an_export_stopped_at_once_exits_on_sigterm(small_raw: Path) -> None:
    for _ in range(5):
        with nbdserver.qemu_nbd(small_raw, "raw") as export:
            pass
        assert export.proc.returncode in (0, -15)  # never the SIGKILL of a server that ignored SIGTERM
