"""A format-independent digest of the content a guest sees on a disk image."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator

from conversion import qemu_img
from conversion.formats import qemu_format

# 64 KiB, the replica sync's chunk: an incremental sync updates the digest of exactly the chunks it
# wrote, from the bytes it holds, without re-reading the replica around them
CHUNK_SIZE = 64 << 10
ALGORITHM = "sha256-chunked-v1"
_MAGIC = b"coriolis:sha256-chunked:v1\0"


# Runs of empty chunks are hashed this many digests at a time (1 MiB): memory stays flat however
# large a disk declares itself, and a declared size costs hashing time only (~1 s per 2 TiB here).
ZERO_SLICE = 32768
# Data chunks are read this many bytes at a time (whole chunks).
READ_SLICE = 4 << 20


def _data_chunk_runs(extents: Iterable[qemu_img.Extent], chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(first, end)`` chunk index ranges holding a byte qemu does not know to be zero, in order.

    Extents come sorted and disjoint from ``qemu-img map``; a range is merged with the previous one
    when they touch, so a chunk is never listed twice and nothing grows with the declared size.
    """
    run: tuple[int, int] | None = None
    for ext in extents:
        if ext.zero or ext.length <= 0:
            continue
        first, end = ext.start // chunk_size, (ext.start + ext.length - 1) // chunk_size + 1
        if run is not None and first <= run[1]:
            run = (run[0], max(run[1], end))
            continue
        if run is not None:
            yield run
        run = (first, end)
    if run is not None:
        yield run


class ChunkedSum:
    """The outer hash of ``sha256-chunked-v1``, fed chunk digests in order; empty runs hashed in slices."""

    def __init__(self, size: int, chunk_size: int = CHUNK_SIZE) -> None:
        self.size = size
        self.chunk_size = chunk_size
        self.count = (size + chunk_size - 1) // chunk_size
        self.done = 0  # chunks hashed so far
        self._outer = hashlib.sha256(_MAGIC + struct.pack("<QI", size, chunk_size))
        self._zero = hashlib.sha256(bytes(chunk_size)).digest()
        self._zero_slice = self._zero * min(ZERO_SLICE, max(self.count, 1))

    def _last_is_short(self) -> bool:
        return bool(self.size % self.chunk_size)

    def zeros(self, count: int) -> None:
        """``count`` empty chunks (the short last chunk hashes as what it is: fewer zeros)."""
        count = min(count, self.count - self.done)
        tail = count > 0 and self.done + count == self.count and self._last_is_short()
        full = count - 1 if tail else count
        while full > 0:
            take = min(full, len(self._zero_slice) // 32)
            self._outer.update(self._zero_slice[: take * 32])
            full -= take
        if tail:
            self._outer.update(hashlib.sha256(bytes(self.size % self.chunk_size)).digest())
        self.done += max(count, 0)

    def digests(self, digests: bytes) -> None:
        """The sha256 of the next ``len(digests) // 32`` chunks, in order."""
        self._outer.update(digests)
        self.done += len(digests) // 32

    def skip_to(self, index: int) -> None:
        """Empty chunks up to (not including) chunk ``index``."""
        if index > self.done:
            self.zeros(index - self.done)

    def hexdigest(self) -> str:
        """The digest; chunks not fed count as empty."""
        self.skip_to(self.count)
        return self._outer.hexdigest()


def _hash_slices(data: bytes | memoryview, chunk_size: int) -> bytes:
    """The sha256 of each ``chunk_size`` slice of ``data`` (the last one may be shorter), concatenated."""
    view = memoryview(data)
    return b"".join(hashlib.sha256(view[at : at + chunk_size]).digest() for at in range(0, len(view), chunk_size))


def _read_exact(fd: int, length: int, offset: int) -> bytes:
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            # Past the end of a raw file: the guest reads zeros there.
            parts.append(bytes(length))
            break
        parts.append(part)
        length -= len(part)
        offset += len(part)
    return b"".join(parts)


def _digest(fd: int, size: int, runs: Iterable[tuple[int, int]], chunk_size: int) -> str:
    total = ChunkedSum(size, chunk_size)
    per_read = max(1, READ_SLICE // chunk_size)
    for first, end in runs:
        end = min(end, total.count)
        total.skip_to(first)
        for index in range(max(first, total.done), end, per_read):
            offset = index * chunk_size
            length = min(per_read * chunk_size, size - offset, (end - index) * chunk_size)
            total.digests(_hash_slices(_read_exact(fd, length, offset), chunk_size))
    return total.hexdigest()


def checksum(
    path: str | os.PathLike[str],
    fmt: str,
    *,
    chunk_size: int = CHUNK_SIZE,
    scratch_dir: str | os.PathLike[str] | None = None,
) -> str:
    """A sha256-based digest of the guest-visible content of an image, in hex.

    Algorithm (``sha256-chunked-v1``): the virtual disk is cut into ``chunk_size``
    chunks (the last one may be shorter). The result is::

        sha256(b"coriolis:sha256-chunked:v1\\0" || le64(virtual_size) || le32(chunk_size)
               || sha256(chunk_0) || sha256(chunk_1) || ...)

    Chunks that ``qemu-img map`` reports entirely as zero (holes, unallocated or
    zero clusters) are not read: they contribute the precomputed sha256 of a zero
    chunk. Other chunks are read and hashed; a read chunk that happens to be all
    zeros hashes the same way, so equal guest content gives an equal digest whatever
    the format or allocation. It is not the plain sha256 of the raw bytes.

    Reading: a raw image is read directly. Any other format is read once through a read-only
    ``qemu-nbd`` export (``conversion.nbdstream``), data ranges only: nothing is written anywhere
    (qemu 7.2 has no ``qemu-img checksum``).

    Args:
        path: the image (opened read-only).
        fmt: its format (never probed).
        chunk_size: the chunk size in bytes; digests only compare at equal chunk sizes.
        scratch_dir: where the export's socket may live (default: the system temp dir).

    Raises:
        ConversionError: qemu-img cannot read the image.
    """
    if qemu_format(fmt) != "raw":
        from conversion import nbdstream

        return nbdstream.digest(path, fmt, scratch_dir=scratch_dir, chunk_size=chunk_size).digest
    size = qemu_img.info(path, fmt).virtual_size
    chunks = _data_chunk_runs(qemu_img.map_extents(path, fmt), chunk_size)
    return _hash_file(os.fspath(path), size, chunks, chunk_size)


def _hash_file(path: str, size: int, chunks: Iterable[tuple[int, int]], chunk_size: int) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return _digest(fd, size, chunks, chunk_size)
    finally:
        os.close(fd)


class StreamingDigest:
    """The digest ``checksum`` gives, computed from the image's bytes as they stream past.

    Feed the whole virtual disk in order with ``update(data)``, or ``update(None, length)``
    for a run of zeros (a hole); zeros are only hashed inside chunks that also hold data.
    """

    def __init__(self, size: int, chunk_size: int = CHUNK_SIZE) -> None:
        self.size = (size + 511) // 512 * 512  # qemu sees raw images in whole sectors
        self._chunk = chunk_size
        self._outer = hashlib.sha256(_MAGIC + struct.pack("<QI", self.size, chunk_size))
        self._zero = hashlib.sha256(bytes(chunk_size)).digest()
        self._hasher: hashlib._Hash | None = None
        self._zeros = 0  # hole bytes of the current chunk not hashed yet
        self._pos = 0
        self.chunk_digests = bytearray()  # sha256 of each chunk so far: lets a replica update the digest later

    def update(self, data: bytes | None, length: int | None = None) -> None:
        length = len(data) if data is not None else int(length or 0)
        view = memoryview(data) if data is not None else None
        done = 0
        while done < length:
            take = min(self._chunk - self._pos % self._chunk, length - done)
            if view is None:
                if self._hasher is None:
                    self._zeros += take
                else:
                    self._hasher.update(bytes(take))
            else:
                if self._hasher is None:
                    self._hasher = hashlib.sha256(bytes(self._zeros))
                    self._zeros = 0
                self._hasher.update(view[done : done + take])
            self._pos += take
            done += take
            if self._pos % self._chunk == 0 or self._pos == self.size:
                self._close_chunk()

    def _close_chunk(self) -> None:
        if self._hasher is not None:
            digest = self._hasher.digest()
        else:
            zeros = self._zeros
            digest = self._zero if zeros == self._chunk else hashlib.sha256(bytes(zeros)).digest()
        self._outer.update(digest)
        self.chunk_digests += digest
        self._hasher, self._zeros = None, 0

    def hexdigest(self) -> str:
        """The digest; the rest of the disk, if not fed, counts as zeros."""
        if self._pos < self.size:
            self.update(None, self.size - self._pos)
        return self._outer.hexdigest()


def digest_from_chunks(size: int, chunk_digests: bytes, chunk_size: int = CHUNK_SIZE) -> str:
    """The ``checksum`` digest from the sha256 of every chunk (as ``StreamingDigest.chunk_digests`` holds them).

    Args:
        size: the image's size in bytes (rounded up to whole sectors, as qemu sees raw images).
        chunk_digests: 32 bytes per chunk, in order.
        chunk_size: the chunk size the digests were taken with.
    """
    size = (size + 511) // 512 * 512
    return hashlib.sha256(_MAGIC + struct.pack("<QI", size, chunk_size) + bytes(chunk_digests)).hexdigest()
