"""Incremental sync of a raw image into a persistent replica, with a redo journal.

The replica directory holds, per disk ``D``: ``D.raw`` (the replica, sparse), ``D.hashes`` (one
16-byte digest per chunk, all zeros for a chunk of zeros) and ``D.sync.json`` (chunk size, size,
generation). A sync reads every source chunk (holes cost nothing: they are found with
SEEK_DATA) and writes only the chunks whose digest changed. The first sync writes straight into
a new replica and publishes the hash map last. Later syncs write the changed chunks into
``D.journal/`` first; the journal is committed by an atomic rename once its data is on disk,
and only then applied to the replica. A sync that stops before the commit leaves the previous
replica and hash map untouched (the journal is dropped next time); one that stops after it is
replayed by the next sync. So the replica always holds one whole generation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from conversion.checksum import StreamingDigest

CHUNK = 64 << 10
DIGEST = 16
ZERO = bytes(DIGEST)


@dataclass(frozen=True)
class SyncStats:
    """What one sync did: chunks read and written, bytes written to the replica and the journal."""

    chunks_total: int
    chunks_written: int
    bytes_written: int
    journal_bytes: int
    bytes_read: int
    generation: int
    full: bool
    checksum: str = ""  # the source's content digest, as conversion.checksum computes it

    def to_dict(self) -> dict:
        return asdict(self)


class _Files:
    def __init__(self, replica_dir: Path, disk: str) -> None:
        self.replica = replica_dir / f"{disk}.raw"
        self.hashes = replica_dir / f"{disk}.hashes"
        self.meta = replica_dir / f"{disk}.sync.json"
        self.journal = replica_dir / f"{disk}.journal"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_state(replica_dir: Path, disk: str) -> dict | None:
    """The committed sync state of a replica disk (chunk_size, size, generation), or None."""
    files = _Files(replica_dir, disk)
    if not (files.meta.exists() and files.hashes.exists() and files.replica.exists()):
        return None
    return json.loads(files.meta.read_text())


def _digest(data: bytes) -> bytes:
    return ZERO if not data.strip(b"\0") else hashlib.sha256(data).digest()[:DIGEST]


def _data_ranges(fd: int, size: int) -> list[tuple[int, int]]:
    """Byte ranges that may hold data (everything else is a hole)."""
    ranges, offset = [], 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only holes remain
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        ranges.append((start, min(end, size)))
        offset = end
    return ranges


def _chunks(path: Path, chunk_size: int) -> Iterator[tuple[int, bytes | None]]:
    """(index, data) for every chunk of the file; data is None for a chunk that is all hole."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        ranges = _data_ranges(fh.fileno(), size)
        count = (size + chunk_size - 1) // chunk_size
        wanted = set()
        for start, end in ranges:
            wanted.update(range(start // chunk_size, (end - 1) // chunk_size + 1))
        for index in range(count):
            if index in wanted:
                fh.seek(index * chunk_size)
                yield index, fh.read(chunk_size)
            else:
                yield index, None


def _apply(files: _Files) -> None:
    """Replay a committed journal into the replica, then publish its hash map."""
    plan = json.loads((files.journal / "COMMITTED").read_text())
    chunk, size = plan["chunk_size"], plan["size"]
    with open(files.replica, "r+b") as out, open(files.journal / "data", "rb") as data:
        out.truncate(size)
        for index in plan["chunks"]:
            data.seek(index * chunk)
            out.seek(index * chunk)
            out.write(data.read(min(chunk, size - index * chunk)) or b"")
        for index in plan["zeroed"]:
            out.seek(index * chunk)
            out.write(bytes(min(chunk, size - index * chunk)))
        out.flush()
        os.fsync(out.fileno())
    os.replace(files.journal / "hashes", files.hashes)
    _write_atomic(files.meta, json.dumps({k: plan[k] for k in ("chunk_size", "size", "generation")}).encode())
    shutil.rmtree(files.journal)


def recover(replica_dir: Path, disk: str) -> None:
    """Finish a committed journal, or drop an uncommitted one; safe to repeat."""
    files = _Files(replica_dir, disk)
    if not files.journal.exists():
        return
    if (files.journal / "COMMITTED").exists():
        _apply(files)
    else:
        shutil.rmtree(files.journal)


def sync(
    source: Path, replica_dir: Path, disk: str, progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CHUNK,
) -> SyncStats:
    """Bring ``replica_dir/<disk>.raw`` to the content of the raw image ``source``.

    Args:
        source: a raw image (the guest-visible bytes).
        replica_dir: the destination's replica directory (created if needed).
        disk: the disk's file stem in that directory.
        progress: called with (bytes scanned, total) as the sync goes; may raise to stop it,
            which leaves the previous generation in place.
        chunk_size: bytes per hashed chunk (changing it makes the next sync a full one).
    """
    replica_dir.mkdir(parents=True, exist_ok=True)
    recover(replica_dir, disk)
    files = _Files(replica_dir, disk)
    size = source.stat().st_size
    state = read_state(replica_dir, disk)
    full = state is None or state["chunk_size"] != chunk_size or state["size"] != size
    generation = (state or {}).get("generation", 0) + 1
    old = b"" if full else files.hashes.read_bytes()
    if full:
        for path in (files.meta, files.hashes):
            path.unlink(missing_ok=True)  # a half-written first sync leaves no hash map behind
        target_path = files.replica
        with open(target_path, "wb") as fh:
            fh.truncate(size)
    else:
        files.journal.mkdir()
        target_path = files.journal / "data"
        with open(target_path, "wb") as fh:
            fh.truncate(size)
    hashes = bytearray()
    changed: list[int] = []
    zeroed: list[int] = []
    read = 0
    content = StreamingDigest(size)
    with open(target_path, "r+b") as out:
        for index, data in _chunks(source, chunk_size):
            digest = ZERO if data is None else _digest(data)
            content.update(data, min(chunk_size, size - index * chunk_size))
            read += len(data or b"")
            hashes += digest
            if full or old[index * DIGEST:(index + 1) * DIGEST] != digest:
                if digest == ZERO:
                    if not full:
                        zeroed.append(index)
                else:
                    out.seek(index * chunk_size)
                    out.write(data)
                    changed.append(index)
            if progress and (index % 64 == 0 or (index + 1) * chunk_size >= size):
                progress(min((index + 1) * chunk_size, size), size)
        out.flush()
        os.fsync(out.fileno())
    written = sum(min(chunk_size, size - i * chunk_size) for i in changed)
    zero_bytes = sum(min(chunk_size, size - i * chunk_size) for i in zeroed)
    meta = {"chunk_size": chunk_size, "size": size, "generation": generation}
    if full:
        _write_atomic(files.hashes, bytes(hashes))
        _write_atomic(files.meta, json.dumps(meta).encode())
        return SyncStats(
            len(hashes) // DIGEST, len(changed), written, 0, read, generation, True, content.hexdigest()
        )
    _write_atomic(files.journal / "hashes", bytes(hashes))
    plan = {**meta, "chunks": changed, "zeroed": zeroed}
    _write_atomic(files.journal / "COMMITTED", json.dumps(plan).encode())  # the commit point
    _fsync_dir(files.journal)
    _apply(files)
    return SyncStats(
        len(hashes) // DIGEST, len(changed) + len(zeroed), written + zero_bytes, written, read, generation, False,
        content.hexdigest(),
    )


def delete(replica_dir: Path, disk: str) -> None:
    """Remove a replica disk, its sync state and any journal."""
    files = _Files(replica_dir, disk)
    shutil.rmtree(files.journal, ignore_errors=True)
    for path in (files.replica, files.hashes, files.meta):
        path.unlink(missing_ok=True)
