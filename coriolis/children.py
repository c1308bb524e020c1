"""Helper processes tied to the thread that starts them (qemu-nbd exports and the like); whether a process lives.

A worker killed in the middle of a disk must never leave a child holding an image open. Linux's
parent-death signal does that; util-linux's ``setpriv --pdeathsig`` sets it up in the child itself,
so the worker is spawned from, not forked: a ``preexec_fn`` makes Python fork the whole worker (its
page tables copied: ~60 ms for a 150 MiB pool process) where a spawn costs ~1 ms.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
SETPRIV = shutil.which("setpriv")  # util-linux, on every Debian system


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn_tied(argv: list[str], stderr: IO[bytes] | int) -> subprocess.Popen[bytes]:
    """Start ``argv`` (stdin and stdout closed), to be sent SIGTERM when the starting thread dies.

    Args:
        argv: the program and its arguments; the program must be on PATH.
        stderr: a file (never an unread pipe: a chatty child would block on it) or ``subprocess.DEVNULL``.

    Raises:
        FileNotFoundError: the program is not installed.
    """
    if not shutil.which(argv[0]):
        raise FileNotFoundError(argv[0])
    prefix: list[str] = [SETPRIV, "--pdeathsig", "TERM"] if SETPRIV else []
    return subprocess.Popen([*prefix, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                            preexec_fn=None if SETPRIV else _die_with_parent)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process here (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
