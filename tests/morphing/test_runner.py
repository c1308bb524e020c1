"""The runner wrapper that times guest programs: seconds added up per program, failures timed and re-raised."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from morphing.errors import MorphError
from morphing.runner import RecordingRunner, TimedRunner


class Failing(RecordingRunner):
    def run(self, args: Sequence[str]) -> str:
        super().run(args)
        if args[0] == "false":
            raise MorphError("guest command 'false' failed")
        return "out"


def test_seconds_are_added_up_per_guest_program() -> None:
    inner = Failing()
    runner = TimedRunner(inner)
    assert runner.run(["update-initramfs", "-u", "-k", "a"]) == "out"
    runner.run(["env", "COMPRESSLEVEL=1", "update-initramfs", "-u", "-k", "b"])  # named by its program
    runner.run(["dpkg", "--purge", "open-vm-tools"])
    with pytest.raises(MorphError):
        runner.run(["false"])
    assert inner.calls[0] == ["update-initramfs", "-u", "-k", "a"] and len(inner.calls) == 4
    assert set(runner.seconds) == {"guest update-initramfs", "guest dpkg", "guest false"}
    assert all(v >= 0 for v in runner.seconds.values())
