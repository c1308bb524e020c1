"""Commands run inside the guest (in the libguestfs appliance), and a recording stand-in for tests."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from morphing.errors import MorphError

GUEST_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL=C",
    "LANG=C",
    "HOME=/root",
    "DEBIAN_FRONTEND=noninteractive",
)


class Runner(Protocol):
    """Runs a guest command; raises ``MorphError`` when it fails."""

    def run(self, args: Sequence[str]) -> str: ...


class ApplianceRunner:
    """Runs guest programs with libguestfs' ``command``: chrooted into the guest *inside the appliance*.

    The appliance is a VM with its own kernel, its own /proc and no network: a guest program sees
    the appliance, never this host.
    """

    def __init__(self, handle: Any) -> None:
        self.g = handle

    def run(self, args: Sequence[str]) -> str:
        """Run ``args`` inside the guest and return its standard output.

        Args:
            args: the command and its arguments, as the guest sees them.
        """
        try:
            return self.g.command(["/usr/bin/env", *GUEST_ENV, *args])
        except RuntimeError as exc:
            tail = str(exc).strip().splitlines()[-5:]
            raise MorphError(f"guest command {' '.join(args)!r} failed: {' / '.join(tail)}") from exc


class TimedRunner:
    """Runs through another runner and adds up the seconds spent in each guest program (for the morph's times)."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = {}

    def run(self, args: Sequence[str]) -> str:
        started = time.monotonic()
        try:
            return self.inner.run(args)
        finally:
            program = next((a for a in args if a != "env" and "=" not in a), args[0])
            key = f"guest {program}"
            self.seconds[key] = self.seconds.get(key, 0.0) + time.monotonic() - started


class RecordingRunner:
    """Records the commands it is asked to run and runs nothing (for tests on plain trees)."""

    def __init__(self, outputs: dict[str, str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.outputs = outputs or {}

    def run(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        return self.outputs.get(args[0], "")
