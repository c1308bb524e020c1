"""The images an appliance wrote (qemu ignoring the guest's flushes) are made durable once, after its shutdown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from morphing.appliance import Appliance
from morphing.errors import MorphError
from providers.types import NullReporter


class Handle:
    """The two calls ``Appliance`` makes when it stops, recorded in order with the fsyncs."""

    def __init__(self, events: list[str], fail: bool = False) -> None:
        self.events = events
        self.fail = fail

    def shutdown(self) -> None:
        self.events.append("shutdown")
        if self.fail:
            raise RuntimeError("appliance died")

    def close(self) -> None:
        self.events.append("close")


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    events: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return events


def stopped(tmp_path: Path, events: list[str], readonly: bool = False, fail: bool = False) -> list[Path]:
    disks = [tmp_path / "disk0.qcow2", tmp_path / "disk1.raw"]
    for disk in disks:
        disk.write_bytes(b"image")
    appliance = Appliance([(disks[0], "qcow2"), (disks[1], "raw")], NullReporter(), readonly=readonly)
    appliance.g = Handle(events, fail)
    appliance._stop(quiet=False)
    return disks


def test_every_written_disk_is_fsynced_after_the_shutdown(tmp_path: Path, fsyncs: list[str]) -> None:
    disks = stopped(tmp_path, fsyncs)
    assert fsyncs == ["shutdown", f"fsync {disks[0]}", f"fsync {disks[1]}", "close"]


def test_read_only_sessions_sync_nothing(tmp_path: Path, fsyncs: list[str]) -> None:
    stopped(tmp_path, fsyncs, readonly=True)
    assert fsyncs == ["shutdown", "close"]


def test_a_failed_shutdown_is_an_error_and_nothing_is_claimed_durable(tmp_path: Path, fsyncs: list[str]) -> None:
    with pytest.raises(MorphError, match="guest writes may be lost"):
        stopped(tmp_path, fsyncs, fail=True)
    assert fsyncs == ["shutdown", "close"]
