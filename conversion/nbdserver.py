"""``qemu-nbd`` exports of disk images on private unix sockets, started side by side and always stopped.

qemu-nbd serves an image through the same block drivers ``qemu-img`` uses (every format, a byte range
of a bigger file for an OVA's VMDK), read-only unless asked; a killed worker takes its exports with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conversion.errors import ConversionError
from conversion.formats import qemu_format
from conversion.member import Member, qemu_name
from coriolis.children import spawn_tied

log = logging.getLogger(__name__)

QEMU_NBD = "qemu-nbd"
CONNECTIONS = 3  # reads (and writes) in flight, one per connection and thread


def _socket_dir(scratch_dir: str | os.PathLike[str] | None) -> str:
    # a unix socket path must fit in 108 bytes: a deep staging directory falls back to the temp dir
    if scratch_dir is not None and len(os.fspath(scratch_dir)) < 60:
        os.makedirs(scratch_dir, exist_ok=True)
        return tempfile.mkdtemp(prefix=".nbd-", dir=scratch_dir)
    return tempfile.mkdtemp(prefix="coriolis-nbd-")


def _tail(err: IO[bytes], limit: int = 2000) -> str:
    err.seek(0)
    return err.read().decode(errors="replace").strip()[-limit:]


def _spawn(argv: list[str], err: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start ``argv``, to be sent SIGTERM when the starting thread dies (see coriolis.children)."""
    return spawn_tied(argv, err)


@dataclass
class Export:
    """A ``qemu-nbd`` process serving one image on ``sock``; ``wait()`` until it listens."""

    path: str
    fmt: str
    sock: str
    proc: subprocess.Popen[bytes]
    err: IO[bytes]
    file_bytes_read: int | None = None  # set when the export stops
    storage_bytes_read: int | None = None

    def read_io(self) -> None:
        """Note the bytes the server's read calls returned so far (its image file: NBD requests come by
        recvmsg, uncounted) and how many of them the storage had to provide."""
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split(": ", 1) for line in Path(f"/proc/{self.proc.pid}/io").read_text().splitlines())
            self.file_bytes_read = int(fields["rchar"])
            self.storage_bytes_read = int(fields["read_bytes"])

    def wait(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None:
                raise ConversionError(f"cannot export {self.path} as {self.fmt}", _tail(self.err),
                                      self.proc.returncode)
            if time.monotonic() > deadline:
                raise ConversionError(f"{QEMU_NBD} did not export {self.path} within {timeout:.0f} s")
            time.sleep(0.002)
        return self.sock


@contextlib.contextmanager
def qemu_nbd(
    path: str | os.PathLike[str], fmt: str, *, writable: bool = False, connections: int = CONNECTIONS,
    scratch_dir: str | os.PathLike[str] | None = None, member: Member | None = None,
) -> Iterator[Export]:
    """A ``qemu-nbd`` export of an image on a private unix socket, for ``connections`` clients.

    Started, not waited for (``Export.wait``): two exports start side by side. Read-only unless
    ``writable``. ``member``: only that byte range of ``path`` is the image (read in place). On exit
    the server is asked to stop and waited for; a writable export that does not close its image
    cleanly logs it (the caller reads the result back anyway).
    """
    if writable and member is not None:
        raise ConversionError("a member of a container file is only ever read")
    tmp = _socket_dir(scratch_dir)
    sock = os.path.join(tmp, "s")
    # a new destination is written like ``qemu-img convert`` writes it (cache=unsafe: no flush to the
    # disk; a host crash leaves a file whose digest no longer matches, and the stage is redone)
    cache = "unsafe" if writable else "writeback"
    args = [QEMU_NBD, f"--format={qemu_format(fmt)}", f"--socket={sock}", f"--shared={connections}",
            "--persistent", f"--cache={cache}", "--aio=threads"]
    if not writable:
        args.append("--read-only")
    # stderr to a file, never a pipe nobody reads until the end: a full pipe would block qemu-nbd
    err_file = tempfile.TemporaryFile()
    try:
        proc = _spawn([*args, qemu_name(path, member)], err_file)
    except FileNotFoundError as exc:
        err_file.close()
        os.rmdir(tmp)
        raise ConversionError(f"{QEMU_NBD} is not installed") from exc
    failed = True
    export = Export(os.fspath(path), fmt, sock, proc, err_file)
    try:
        yield export
        failed = False
    finally:
        if proc.poll() is None:
            export.read_io()
            _stop(proc)
        err = _tail(err_file)
        err_file.close()
        with contextlib.suppress(OSError):
            os.unlink(sock)
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        if not failed and writable and proc.returncode not in (0, -15):
            # qemu-nbd may exit non-zero on SIGTERM while a client hangs up; what it wrote is checked
            # anyway: the caller reads the destination back through a new export and compares digests
            log.warning("%s exited with %s after writing %s: %s", QEMU_NBD, proc.returncode, os.fspath(path),
                        err[-500:])


def _stop(proc: subprocess.Popen[bytes], patience: float = 60.0) -> None:
    """SIGTERM until qemu-nbd exits (it closes, and flushes, its image first); SIGKILL after ``patience``.

    qemu-nbd only honours a SIGTERM once its main loop runs, and it binds its socket before that: an
    export that no client ever connected to (a copy whose source holds no data) can be told to stop
    while still starting, and would ignore it for good. Asking again until it exits closes that window.
    """
    deadline = time.monotonic() + patience
    while proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
