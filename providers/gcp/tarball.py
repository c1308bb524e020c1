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
from collections.abc import Callable

GIB = 1 << 30
PIECE = 4 << 20


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

    def close(self) -> None:
        self._out.write(self._deflate.flush(zlib.Z_FINISH))
        self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))

    def __enter__(self) -> _Gzip:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class _PaddedDisk(io.RawIOBase):
    """The raw file, then zeros up to ``size``."""

    def __init__(self, path: str | os.PathLike[str], size: int, on_read: Callable[[int], None]) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._size, self._pos, self._on_read = size, 0, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._fh.read(want)
        data += bytes(want - len(data))
        buffer[:want] = data
        self._pos += want
        self._on_read(self._pos)
        return want

    def close(self) -> None:
        self._fh.close()
        super().close()


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
                    tarfile.open(fileobj=packed, mode="w|", format=tarfile.GNU_FORMAT, bufsize=PIECE) as tar:
                tar.copybufsize = PIECE  # tarfile's 16 KiB default makes its stream buffer copy quadratically
                info = tarfile.TarInfo("disk.raw")
                info.size, info.mtime, info.mode = self.member_size, int(time.time()), 0o644
                with _PaddedDisk(path, self.member_size, self._count) as disk:
                    tar.addfile(info, disk)
        except BrokenPipeError:  # the reader went away (cancelled upload)
            pass
        except BaseException as exc:  # handed to the reader
            self._error = exc

    def _count(self, position: int) -> None:
        self.disk_read = position

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
