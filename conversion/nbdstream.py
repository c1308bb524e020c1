"""One pass over a disk image through qemu-nbd (libnbd): its content digest, or a copy hashed on the way.

The source is exported read-only by ``qemu-nbd`` (the format driver qemu-img uses) and read with
libnbd over several connections at once (``--shared``): block status (``base:allocation``) tells
which ranges hold data, so holes and zero ranges are never read; the data ranges are cut into
slices that a few threads read, hash (sha256 releases the GIL) and, for a copy, write to a writable
``qemu-nbd`` export of the freshly created destination. The digest is ``sha256-chunked-v1``
(``conversion.checksum``): chunk digests are combined in disk order whatever order the threads
finish in. Memory is a few slices per thread, whatever the disk's size.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import importlib
import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import IO

from conversion import qemu_img
from conversion.checksum import CHUNK_SIZE, ChunkedSum
from conversion.errors import ConversionError
from conversion.formats import qemu_format
from conversion.member import Member, qemu_name, reads_only_itself

log = logging.getLogger(__name__)

QEMU_NBD = "qemu-nbd"
# Debian ships libnbd's bindings for the system interpreter only (python3-libnbd)
SYSTEM_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
SLICE = 4 << 20  # bytes one request reads (a whole number of chunks)
STATUS_SPAN = 1 << 30  # bytes one block-status request covers
CONNECTIONS = 3  # reads (and writes) in flight, one per connection and thread
STATE_ZERO = 2  # base:allocation: the range reads as zeros
PR_SET_PDEATHSIG = 1

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StreamStats:
    """What one pass did: the content digest, bytes read from the source and written to the target."""

    digest: str
    size: int
    bytes_read: int
    bytes_written: int
    # what the source's qemu-nbd read from its file (compressed grains, metadata): /proc/<pid>/io rchar,
    # and of that what came from the storage rather than the page cache (read_bytes)
    file_bytes_read: int | None = None
    storage_bytes_read: int | None = None


def libnbd() -> ModuleType:
    """The ``nbd`` module (libnbd's Python bindings), from the venv or the system's dist-packages."""
    try:
        return importlib.import_module("nbd")
    except ImportError:
        pass
    if not os.path.isdir(SYSTEM_DIST_PACKAGES):
        raise ConversionError("libnbd's Python bindings are not installed (Debian: python3-libnbd)")
    sys.path.append(SYSTEM_DIST_PACKAGES)
    try:
        return importlib.import_module("nbd")
    except ImportError as exc:
        raise ConversionError(f"libnbd's Python bindings cannot be loaded: {exc}") from exc
    finally:
        sys.path.remove(SYSTEM_DIST_PACKAGES)


def _socket_dir(scratch_dir: str | os.PathLike[str] | None) -> str:
    # a unix socket path must fit in 108 bytes: a deep staging directory falls back to the temp dir
    if scratch_dir is not None and len(os.fspath(scratch_dir)) < 60:
        os.makedirs(scratch_dir, exist_ok=True)
        return tempfile.mkdtemp(prefix=".nbd-", dir=scratch_dir)
    return tempfile.mkdtemp(prefix="coriolis-nbd-")


def _tail(err: IO[bytes], limit: int = 2000) -> str:
    err.seek(0)
    return err.read().decode(errors="replace").strip()[-limit:]


def _die_with_parent() -> None:
    # a killed worker never leaves an export holding the image open
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
        proc = subprocess.Popen([*args, qemu_name(path, member)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err_file, preexec_fn=_die_with_parent)
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


def _connect(nbd: ModuleType, sock: str, patience: float = 10.0) -> object:
    """A handle connected to ``sock``; qemu-nbd binds its socket a moment before it listens, so an
    early refusal means "not yet" (a failed handle is dead: each attempt takes a new one)."""
    deadline = time.monotonic() + patience
    while True:
        h = nbd.NBD()
        h.add_meta_context("base:allocation")
        try:
            h.connect_unix(sock)
            return h
        except nbd.Error as exc:
            code = exc.args[1] if len(exc.args) > 1 else None  # exc.errno is the name ("ECONNREFUSED")
            if code != errno.ECONNREFUSED or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


class _Connections:
    """One libnbd handle per thread (and per export), closed together."""

    def __init__(self, sockets: list[str]) -> None:
        self._sockets = sockets
        self._local = threading.local()
        self._all: list[object] = []
        self._lock = threading.Lock()

    def handles(self) -> list:
        found = getattr(self._local, "handles", None)
        if found is None:
            nbd = libnbd()
            found = []
            for sock in self._sockets:
                found.append(_connect(nbd, sock))
            self._local.handles = found
            with self._lock:
                self._all.extend(found)
        return found

    def of(self, export: int) -> list:
        """The handles of every thread to export number ``export``."""
        return self._all[export::len(self._sockets)]

    def close(self) -> None:
        for h in self._all:
            with contextlib.suppress(Exception):
                h.shutdown()  # libnbd 1.14 handles have no close(): the socket goes with the handle
        self._all.clear()


def _data_runs(h: object, size: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` byte ranges, chunk-aligned and in order, that may hold non-zero bytes."""
    run: list[int] | None = None
    offset = 0
    found: list[tuple[int, int, int]] = []

    def collect(_ctx: str, at: int, entries: list[int], _err: object) -> int:
        pos = at
        for i in range(0, len(entries), 2):
            found.append((pos, entries[i], entries[i + 1]))
            pos += entries[i]
        return 0

    while offset < size:
        found.clear()
        h.block_status(min(STATUS_SPAN, size - offset), offset, collect)  # type: ignore[attr-defined]
        if not found:
            raise ConversionError(f"NBD block status made no progress at offset {offset}")
        for at, length, flags in found:
            length = min(length, size - at)
            if length <= 0:
                continue
            if not flags & STATE_ZERO:
                start = at // chunk_size * chunk_size
                end = min(size, -(-(at + length) // chunk_size) * chunk_size)
                if run is not None and start <= run[1]:
                    run[1] = max(run[1], end)
                else:
                    if run is not None:
                        yield run[0], run[1]
                    run = [start, end]
            offset = at + length
    if run is not None:
        yield run[0], run[1]


def _slices(runs: Iterator[tuple[int, int]], span: int) -> Iterator[tuple[int, int]]:
    for start, end in runs:
        for at in range(start, end, span):
            yield at, min(span, end - at)


def _write(handle: object, data: memoryview, offset: int) -> None:
    handle.pwrite(data, offset)  # type: ignore[attr-defined]


def _hash_and_write(
    conns: _Connections, offset: int, length: int, chunk_size: int, zero: bytes, write: bool
) -> tuple[bytes, int]:
    """Read one slice, hash its chunks, write its non-zero chunks; returns (digests, bytes written)."""
    handles = conns.handles()
    data = handles[0].pread(length, offset)
    view = memoryview(data)
    digests = bytearray()
    written = 0
    pending: int | None = None  # start of a run of non-zero chunks not written yet
    for at in range(0, length, chunk_size):
        digest = hashlib.sha256(view[at:at + chunk_size]).digest()
        digests += digest
        empty = digest == zero and at + chunk_size <= length
        if write and not empty and pending is None:
            pending = at
        if write and empty and pending is not None:
            _write(handles[1], view[pending:at], offset + pending)
            written += at - pending
            pending = None
    if write and pending is not None:
        _write(handles[1], view[pending:], offset + pending)
        written += length - pending
    return bytes(digests), written


def _stream(
    sockets: list[str], size: int, *, write: bool, threads: int, progress: Progress | None,
    chunk_size: int = CHUNK_SIZE,
) -> StreamStats:
    total = ChunkedSum(size, chunk_size)
    zero = hashlib.sha256(bytes(chunk_size)).digest()
    span = max(chunk_size, SLICE // chunk_size * chunk_size)
    conns = _Connections(sockets)
    status = _Connections(sockets[:1])
    read = written = 0
    pending: deque[tuple[int, int, Future[tuple[bytes, int]]]] = deque()

    def settle(item: tuple[int, int, Future[tuple[bytes, int]]]) -> None:
        nonlocal read, written
        offset, length, future = item
        digests, wrote = future.result()
        total.skip_to(offset // chunk_size)
        total.digests(digests)
        read += length
        written += wrote
        if progress is not None:
            progress(offset + length, size)

    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nbdstream") as pool:
            try:
                for offset, length in _slices(_data_runs(status.handles()[0], size, chunk_size), span):
                    future = pool.submit(_hash_and_write, conns, offset, length, chunk_size, zero, write)
                    pending.append((offset, length, future))
                    while len(pending) > 2 * threads:
                        settle(pending.popleft())
                while pending:
                    settle(pending.popleft())
            except BaseException:
                for _, _, future in pending:
                    future.cancel()
                raise
        if progress is not None:
            progress(size, size)
        if write:
            for h in conns.of(1):
                h.flush()  # each connection: multi-conn consistency is not assumed
    except ConversionError:
        raise
    except Exception as exc:
        if type(exc).__name__ == "Error" and type(exc).__module__ == "nbd":
            raise ConversionError("NBD transfer failed", str(exc)) from exc
        raise
    finally:
        conns.close()
        status.close()
    return StreamStats(total.hexdigest(), size, read, written)


def digest(
    path: str | os.PathLike[str], fmt: str, *, threads: int = CONNECTIONS,
    scratch_dir: str | os.PathLike[str] | None = None, progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE, trusted: bool = False, member: Member | None = None,
) -> StreamStats:
    """The ``sha256-chunked-v1`` digest of an image's guest-visible content, read once, data only.

    Args:
        path: the image (opened read-only).
        fmt: its format (never probed).
        member: the byte range of ``path`` holding the image (an OVA's VMDK), read in place.
        threads: reads in flight.
        scratch_dir: where the export's socket lives (nothing else is written anywhere).
        progress: called with (position reached, virtual size).
        chunk_size: the digest's chunk size.
        trusted: an image this service wrote itself (a copy's destination): its header is not
            checked for backing or extent files first, which saves a ``qemu-img info``.
    """
    size = None if trusted else _plain_raw_size(path, fmt, member)
    if not trusted and size is None:
        image = qemu_img.info(path, fmt, member)
        _refuse_external(image, path, member)
        size = image.virtual_size
    if size is not None:
        threads = _threads_for(size, threads)
    with qemu_nbd(path, fmt, connections=threads + 1, scratch_dir=scratch_dir, member=member) as export:
        export.wait()
        if size is None:
            size = _export_size(export.sock)
        stats = _stream([export.sock], size, write=False, threads=threads, progress=progress,
                        chunk_size=chunk_size)
    return replace(stats, file_bytes_read=export.file_bytes_read, storage_bytes_read=export.storage_bytes_read)


def _export_size(sock: str) -> int:
    h = _connect(libnbd(), sock)
    try:
        return int(h.get_size())  # type: ignore[attr-defined]
    finally:
        with contextlib.suppress(Exception):
            h.shutdown()


def _threads_for(size: int, threads: int) -> int:
    """No more threads (and connections) than slices: a small disk pays for one of each."""
    return max(1, min(threads, -(-size // SLICE)))


def _plain_raw_size(path: str | os.PathLike[str], fmt: str, member: Member | None) -> int | None:
    """The virtual size of a raw regular file (its length: qemu's raw driver reads nothing else), found
    without starting ``qemu-img info``; None for anything else, which needs its header read and checked."""
    if member is not None or qemu_format(fmt) != "raw":
        return None
    st = os.stat(path)
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _refuse_external(image: qemu_img.ImageInfo, path: str | os.PathLike[str], member: Member | None) -> None:
    if image.backing_file:
        raise ConversionError(f"{os.fspath(path)} has a backing file ({image.backing_file}); refusing it")
    if member is not None:
        if image.format_specific.get("data-file") or (
            image.extent_files and not reads_only_itself(image.extent_files, path, member)
        ):
            raise ConversionError(f"{os.fspath(path)} at {member.offset}: the image names files besides its own bytes")
        return
    external = qemu_img._external_files(image)
    if external:
        raise ConversionError(f"{image.path} reads data from other files ({', '.join(external)}); refusing it")


def copy(
    src: str | os.PathLike[str], src_fmt: str, dst: str | os.PathLike[str], dst_fmt: str, *,
    threads: int = CONNECTIONS, scratch_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None, vmdk_subformat: str | None = None, vhd_fixed: bool = False,
    member: Member | None = None,
) -> StreamStats:
    """Copy an image into a new one of another format in one pass, hashing the source on the way.

    The destination is created sparse (``qemu-img create``) and only chunks holding a non-zero byte
    are written. The digest returned is the source's content as it was read; it says nothing of
    what the destination's format driver stored: check that with ``digest(dst)``. ``member``: the
    source is that byte range of ``src`` (an OVA's VMDK), read in place.

    Raises:
        ConversionError: qemu-nbd or a transfer failed; the partial destination is removed.
    """
    size = _plain_raw_size(src, src_fmt, member)
    if size is None:
        src_info = qemu_img.info(src, src_fmt, member)
        _refuse_external(src_info, src, member)
        size = src_info.virtual_size
    dst_s = os.fspath(dst)
    options = qemu_img._create_options(qemu_format(dst_fmt), vmdk_subformat, vhd_fixed, False)
    try:
        qemu_img._run(["create", "-q", "-f", qemu_format(dst_fmt), *options, dst_s, str(size)],
                      f"cannot create {dst_s} ({dst_fmt})")
        threads = _threads_for(size, threads)
        with (
            qemu_nbd(src, src_fmt, connections=threads + 1, scratch_dir=scratch_dir, member=member) as source,
            qemu_nbd(dst, dst_fmt, writable=True, connections=threads, scratch_dir=scratch_dir) as target,
        ):
            stats = _stream([source.wait(), target.wait()], size, write=True, threads=threads, progress=progress)
        return replace(stats, file_bytes_read=source.file_bytes_read, storage_bytes_read=source.storage_bytes_read)
    except BaseException:
        Path(dst_s).unlink(missing_ok=True)
        raise
