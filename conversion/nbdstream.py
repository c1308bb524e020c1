"""One pass over a disk image through qemu-nbd (libnbd): its content digest, or a copy hashed on the way.

The source is exported read-only by ``qemu-nbd`` (``conversion.nbdserver``) and read with libnbd over
several connections at once (``conversion.nbdclient``): block status (``base:allocation``) tells which
ranges hold data, so holes and zero ranges are never read; the data ranges are cut into slices that a
few threads read, hash (sha256 releases the GIL) and, for a copy, write to a writable ``qemu-nbd``
export of the freshly created destination. The digest is ``sha256-chunked-v1`` (``conversion.checksum``):
chunk digests are combined in disk order whatever order the threads finish in. Memory is a few slices
per thread, whatever the disk's size.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from conversion import qemu_img
from conversion.checksum import CHUNK_SIZE, ChunkedSum
from conversion.errors import ConversionError
from conversion.formats import qemu_format
from conversion.member import Member, reads_only_itself
from conversion.nbdclient import Connections, data_runs, export_size
from conversion.nbdserver import CONNECTIONS, qemu_nbd

SLICE = 4 << 20  # bytes one request reads (a whole number of chunks)

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


def _slices(runs: Iterator[tuple[int, int]], span: int) -> Iterator[tuple[int, int]]:
    for start, end in runs:
        for at in range(start, end, span):
            yield at, min(span, end - at)


def _write(handle: object, data: memoryview, offset: int) -> None:
    handle.pwrite(data, offset)  # type: ignore[attr-defined]


def _hash_and_write(
    conns: Connections, offset: int, length: int, chunk_size: int, zero: bytes, write: bool
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
    conns = Connections(sockets)
    status = Connections(sockets[:1])
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
                for offset, length in _slices(data_runs(status.handles()[0], size, chunk_size), span):
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
            size = export_size(export.sock)
        stats = _stream([export.sock], size, write=False, threads=threads, progress=progress,
                        chunk_size=chunk_size)
    return replace(stats, file_bytes_read=export.file_bytes_read, storage_bytes_read=export.storage_bytes_read)


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
