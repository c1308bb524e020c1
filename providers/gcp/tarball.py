"""A raw disk as the GNU tar.gz GCE imports (one member, ``disk.raw``, a whole number of GiB), made as it is read.

Nothing is staged: a thread writes the tar stream through gzip into a pipe while the caller reads the
other end (the resumable upload); the disk is read once, in order, and never held whole in memory.
"""

from __future__ import annotations

import io
import os
import struct
import tarfile
import threading
import time
import zlib

GIB = 1 << 30
PIECE = 4 << 20
ZERO_UNIT = 64 << 10
RECORD = 10240  # tar's record: the archive is padded to a whole number of them


def _zero_unit_map() -> tuple[list[int], int]:
    """``crc32(64 KiB of zeros, c)`` is affine in ``c``: the images of the 32 unit vectors, and of 0."""
    zeros = bytes(ZERO_UNIT)
    base = zlib.crc32(zeros, 0)
    return [zlib.crc32(zeros, 1 << bit) ^ base for bit in range(32)], base


_UNIT_MAP, _UNIT_BASE = _zero_unit_map()


def crc32_zeros(crc: int, length: int) -> int:
    """``zlib.crc32(bytes(length), crc)`` for ``length`` a multiple of 64 KiB, without the bytes."""
    for _ in range(length // ZERO_UNIT):
        out = _UNIT_BASE
        bit = 0
        while crc:
            if crc & 1:
                out ^= _UNIT_MAP[bit]
            crc >>= 1
            bit += 1
        crc = out
    return crc


def image_size(size_bytes: int) -> int:
    """GCE wants ``disk.raw`` to be a whole number of GiB."""
    return max(GIB, -(-size_bytes // GIB) * GIB)


class _Gzip:
    """A gzip stream writer whose all-zero pieces cost no compression.

    A disk is mostly zeros (and ``disk.raw`` is padded to whole GiB). A zero piece is written as the
    deflate blocks of a zero piece compressed once, after a full flush: a full flush resets the
    compressor, so no later block refers back across it, and the cached blocks are valid anywhere.
    """

    _cached: dict[tuple[int, int], bytes] = {}

    def __init__(self, out, level: int) -> None:
        self._out, self._level = out, level
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._crc, self._size, self._flushed = 0, 0, True
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # gzip header: deflate, no name, mtime 0

    def _zero_blocks(self, length: int) -> bytes:
        key = (length, self._level)
        if key not in self._cached:
            fresh = zlib.compressobj(self._level, zlib.DEFLATED, -15)
            self._cached[key] = fresh.compress(bytes(length)) + fresh.flush(zlib.Z_FULL_FLUSH)
        return self._cached[key]

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        if len(data) >= 65536 and data.count(0) == len(data):
            if not self._flushed:
                self._out.write(self._deflate.flush(zlib.Z_FULL_FLUSH))
                self._flushed = True
            self._out.write(self._zero_blocks(len(data)))
        else:
            self._out.write(self._deflate.compress(data))
            self._flushed = False
        return len(data)

    def write_zeros(self, length: int) -> None:
        """``length`` zero bytes (a multiple of 64 KiB) from the cached deflate blocks, never materialised."""
        self._crc = crc32_zeros(self._crc, length)
        self._size += length
        if not self._flushed:
            self._out.write(self._deflate.flush(zlib.Z_FULL_FLUSH))
            self._flushed = True
        self._out.write(self._zero_blocks(length))

    def close(self) -> None:
        self._out.write(self._deflate.flush(zlib.Z_FINISH))
        self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))

    def __enter__(self) -> _Gzip:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class _Holes:
    """Which ranges of a sparse file are holes (past its end included), from SEEK_DATA/SEEK_HOLE."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._end = os.fstat(fd).st_size

    def is_hole(self, offset: int, length: int) -> bool:
        if offset >= self._end:
            return True
        try:
            data = os.lseek(self._fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole from here on
            return True
        return data >= offset + length


class TarGzStream(io.RawIOBase):
    """A readable stream of ``disk.raw`` (the disk padded to whole GiB) in a GNU tar, gzip-compressed."""

    def __init__(self, path: str | os.PathLike[str], size: int, level: int = 1) -> None:
        self.member_size = image_size(size)
        self.disk_read = 0
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb", buffering=PIECE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(path, write_fd, level), daemon=True,
                                        name="targz")
        self._thread.start()

    def _write(self, path: str | os.PathLike[str], write_fd: int, level: int) -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=PIECE) as out, _Gzip(out, level) as packed, \
                    open(path, "rb") as disk:
                info = tarfile.TarInfo("disk.raw")
                info.size, info.mtime, info.mode = self.member_size, int(time.time()), 0o644
                header = info.tobuf(format=tarfile.GNU_FORMAT)
                packed.write(header)
                holes = _Holes(disk.fileno())
                for offset in range(0, self.member_size, PIECE):
                    length = min(PIECE, self.member_size - offset)
                    if holes.is_hole(offset, length) and length % ZERO_UNIT == 0:
                        packed.write_zeros(length)
                    else:
                        data = os.pread(disk.fileno(), length, offset)
                        packed.write(data + bytes(length - len(data)))
                    self.disk_read = offset + length
                # end of archive: two zero blocks, then zeros up to a whole record
                used = len(header) + self.member_size + 1024
                packed.write(bytes(1024 + (-used) % RECORD))
        except BrokenPipeError:  # the reader went away (cancelled upload)
            pass
        except BaseException as exc:  # handed to the reader
            self._error = exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._reader.read(len(buffer))
        if not data:
            self._thread.join()
            if self._error is not None:
                raise self._error
            return 0
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
            self._thread.join(timeout=30)
        super().close()
