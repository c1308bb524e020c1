"""A small NBD client (reads and block status over a unix socket) and a read-only qemu-nbd export.

Only what incremental syncs need: the fixed newstyle handshake, structured replies, one meta
context (``qemu:dirty-bitmap:<name>`` or ``base:allocation``), ``NBD_CMD_READ`` and
``NBD_CMD_BLOCK_STATUS``. Protocol: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from coriolis.children import spawn_tied
from providers.types import ProviderError

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2
OPT_ABORT, OPT_GO, OPT_STRUCTURED_REPLY, OPT_SET_META_CONTEXT = 2, 7, 8, 10
REP_ACK, REP_INFO, REP_META_CONTEXT = 1, 3, 4
INFO_EXPORT = 0
CMD_READ, CMD_DISC, CMD_BLOCK_STATUS = 0, 2, 7
REPLY_FLAG_DONE = 1
REPLY_NONE, REPLY_OFFSET_DATA, REPLY_OFFSET_HOLE, REPLY_BLOCK_STATUS = 0, 1, 2, 5
STATE_DIRTY = 1  # in a qemu:dirty-bitmap context
MAX_READ = 4 << 20  # below qemu-nbd's 32 MiB request limit
MAX_STATUS = 1 << 30


class NbdError(ProviderError):
    """The NBD server refused a request or broke the protocol."""


class NbdClient:
    """One connection to an NBD export, negotiated with structured replies and one meta context.

    Args:
        socket_path: the server's unix socket.
        meta_context: e.g. ``qemu:dirty-bitmap:coriolis-1``; None for reads only.
        export: the export name (qemu-nbd's default is the empty name).
    """

    def __init__(self, socket_path: str | Path, meta_context: str | None = None, export: str = "") -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(60)
        self._cookie = 0
        self.size = 0
        self.context_id: int | None = None
        try:
            self._connect(str(socket_path))
            self._handshake(meta_context, export.encode())
        except BaseException:
            self._sock.close()
            raise

    # plumbing ------------------------------------------------------------------------------------

    def _connect(self, path: str, patience: float = 10.0) -> None:
        # qemu-nbd binds its socket a moment before it listens: a refusal that early means "not yet"
        deadline = time.monotonic() + patience
        while True:
            try:
                self._sock.connect(path)
                return
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _recv(self, length: int) -> bytes:
        buf = bytearray()
        while len(buf) < length:
            part = self._sock.recv(min(length - len(buf), 1 << 20))
            if not part:
                raise NbdError("the NBD server closed the connection")
            buf += part
        return bytes(buf)

    def _recv_into(self, view: memoryview) -> None:
        while len(view):
            got = self._sock.recv_into(view)
            if not got:
                raise NbdError("the NBD server closed the connection")
            view = view[got:]

    def _option(self, option: int, data: bytes = b"") -> None:
        self._sock.sendall(struct.pack(">QII", IHAVEOPT, option, len(data)) + data)

    def _option_reply(self, option: int) -> tuple[int, bytes]:
        magic, opt, kind, length = struct.unpack(">QIII", self._recv(20))
        data = self._recv(length)
        if magic != OPT_REPLY_MAGIC or opt != option:
            raise NbdError(f"unexpected NBD option reply {magic:#x} for option {opt}")
        if kind & 0x80000000:
            raise NbdError(f"NBD option {option} refused (reply {kind:#x}): {data[4:].decode(errors='replace')}")
        return kind, data

    def _handshake(self, meta_context: str | None, export: bytes) -> None:
        magic, opt_magic, flags = struct.unpack(">QQH", self._recv(18))
        if magic != NBDMAGIC or opt_magic != IHAVEOPT or not flags & FLAG_FIXED_NEWSTYLE:
            raise NbdError("not a fixed newstyle NBD server")
        self._sock.sendall(struct.pack(">I", FLAG_FIXED_NEWSTYLE | (flags & FLAG_NO_ZEROES)))
        self._option(OPT_STRUCTURED_REPLY)
        self._option_reply(OPT_STRUCTURED_REPLY)
        if meta_context:
            query = meta_context.encode()
            self._option(OPT_SET_META_CONTEXT, struct.pack(">I", len(export)) + export
                         + struct.pack(">II", 1, len(query)) + query)
            while True:
                kind, data = self._option_reply(OPT_SET_META_CONTEXT)
                if kind == REP_ACK:
                    break
                if kind == REP_META_CONTEXT and data[4:] == query:
                    self.context_id = struct.unpack(">I", data[:4])[0]
            if self.context_id is None:
                raise NbdError(f"the NBD export offers no meta context {meta_context!r}")
        self._option(OPT_GO, struct.pack(">I", len(export)) + export + struct.pack(">H", 0))
        while True:
            kind, data = self._option_reply(OPT_GO)
            if kind == REP_ACK:
                break
            if kind == REP_INFO and struct.unpack(">H", data[:2])[0] == INFO_EXPORT:
                self.size = struct.unpack(">Q", data[2:10])[0]

    def _request(self, command: int, offset: int, length: int) -> int:
        self._cookie += 1
        self._sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, command, self._cookie, offset, length))
        return self._cookie

    def _replies(self, cookie: int) -> Iterator[tuple[int, bytes | int]]:
        """(reply type, payload) of each structured chunk answering ``cookie``; raises on an error chunk."""
        while True:
            magic = struct.unpack(">I", self._recv(4))[0]
            if magic == SIMPLE_REPLY_MAGIC:
                error, handle = struct.unpack(">IQ", self._recv(12))
                if error:
                    raise NbdError(f"NBD request failed with error {error}")
                raise NbdError("a simple reply where a structured one was negotiated")
            if magic != STRUCTURED_REPLY_MAGIC:
                raise NbdError(f"bad NBD reply magic {magic:#x}")
            flags, kind, handle, length = struct.unpack(">HHQI", self._recv(16))
            if handle != cookie:
                raise NbdError(f"NBD reply for request {handle}, expected {cookie}")
            if kind & 0x8000:
                payload = self._recv(length)
                error, msg_len = struct.unpack(">IH", payload[:6])
                raise NbdError(f"NBD error {error}: {payload[6:6 + msg_len].decode(errors='replace')}")
            yield kind, length
            if flags & REPLY_FLAG_DONE:
                return

    # commands ------------------------------------------------------------------------------------

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the export from ``offset`` (holes come back as zeros)."""
        out = bytearray(length)
        view = memoryview(out)
        done = 0
        while done < length:
            take = min(MAX_READ, length - done)
            cookie = self._request(CMD_READ, offset + done, take)
            for kind, size in self._replies(cookie):
                if kind == REPLY_OFFSET_DATA:
                    at = struct.unpack(">Q", self._recv(8))[0] - offset
                    if at < done or at + size - 8 > done + take:
                        raise NbdError("NBD data chunk outside the requested range")
                    self._recv_into(view[at:at + size - 8])
                elif kind == REPLY_OFFSET_HOLE:
                    at, hole = struct.unpack(">QI", self._recv(12))
                    view[at - offset:at - offset + hole] = bytes(hole)
                else:
                    self._recv(size)
            done += take
        return bytes(out)

    def block_status(self, offset: int, length: int) -> list[tuple[int, int, int]]:
        """``(offset, length, flags)`` extents of the meta context covering ``offset..offset+length``."""
        if self.context_id is None:
            raise NbdError("no meta context was negotiated")
        out: list[tuple[int, int, int]] = []
        end = offset + length
        while offset < end:
            cookie = self._request(CMD_BLOCK_STATUS, offset, min(MAX_STATUS, end - offset))
            covered = offset
            for kind, size in self._replies(cookie):
                payload = self._recv(size)
                if kind != REPLY_BLOCK_STATUS or struct.unpack(">I", payload[:4])[0] != self.context_id:
                    continue
                for at in range(4, size, 8):
                    ext_len, flags = struct.unpack(">II", payload[at:at + 8])
                    ext_len = min(ext_len, end - covered)
                    if ext_len > 0:
                        out.append((covered, ext_len, flags))
                        covered += ext_len
            if covered == offset:
                raise NbdError(f"NBD block status made no progress at offset {offset}")
            offset = covered
        return out

    def close(self) -> None:
        """Say goodbye (NBD_CMD_DISC) and close the socket."""
        with contextlib.suppress(OSError):
            self._request(CMD_DISC, 0, 0)
        self._sock.close()

    def __enter__(self) -> NbdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def exported(path: str | Path, fmt: str, bitmap: str | None = None, timeout: float = 30.0) -> Iterator[Path]:
    """A read-only ``qemu-nbd`` export of an image on a private unix socket, stopped on exit.

    Args:
        path: the image.
        fmt: its format (never probed).
        bitmap: a persistent dirty bitmap to expose as ``qemu:dirty-bitmap:<bitmap>``.
        timeout: seconds to wait for the socket.
    """
    with tempfile.TemporaryDirectory(prefix="coriolis-nbd-") as tmp:
        sock = Path(tmp) / "nbd.sock"
        # One client: qemu-nbd exits when it disconnects, and with this process (PR_SET_PDEATHSIG), so a
        # killed worker never leaves the image locked.
        args = ["qemu-nbd", "--read-only", f"--format={fmt}", f"--socket={sock}"]
        if bitmap:
            args.append(f"--bitmap={bitmap}")
        err_file = (Path(tmp) / "qemu-nbd.err").open("w+b")  # a file, never an unread pipe
        proc = spawn_tied([*args, os.fspath(path)], err_file)
        try:
            deadline = time.monotonic() + timeout
            while not sock.exists():
                if proc.poll() is not None:
                    err_file.seek(0)
                    err = err_file.read().decode(errors="replace").strip()[-2000:]
                    raise ProviderError(f"qemu-nbd could not export {path}: {err}")
                if time.monotonic() > deadline:
                    raise ProviderError(f"qemu-nbd did not export {path} within {timeout:.0f} s")
                time.sleep(0.01)
            yield sock
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            err_file.close()
