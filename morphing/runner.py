"""Commands run inside the guest (chroot), and a recording stand-in for tests."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from morphing.errors import MorphError

_CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}


class Runner(Protocol):
    """Runs a guest command; raises ``MorphError`` when it fails."""

    def run(self, args: Sequence[str]) -> str: ...


class ChrootRunner:
    """Runs commands with ``chroot`` in a mounted guest (needs root and proc/sys/dev bound)."""

    def __init__(self, root: Path, timeout: float = 1800) -> None:
        self.root = root
        self.timeout = timeout

    def run(self, args: Sequence[str]) -> str:
        """Run ``args`` inside the guest and return its standard output.

        Args:
            args: the command and its arguments, as the guest sees them.
        """
        proc = subprocess.run(
            ["chroot", str(self.root), *args],
            env=_CHROOT_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise MorphError(f"guest command {' '.join(args)!r} failed ({proc.returncode}): {' / '.join(tail)}")
        return proc.stdout


class RecordingRunner:
    """Records the commands it is asked to run and runs nothing (for tests on plain trees)."""

    def __init__(self, outputs: dict[str, str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.outputs = outputs or {}

    def run(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        return self.outputs.get(args[0], "")
