"""Incremental sync of a raw image into a persistent replica, with a redo journal.

The replica directory holds, per disk ``D``: ``D.raw`` (the replica, sparse), ``D.hashes`` (one
16-byte digest per chunk, all zeros for a chunk of zeros), ``D.sums`` (the sha256 of each 64 KiB
chunk of the content checksum, so it can be updated without reading the whole replica) and
``D.sync.json`` (chunk size, size, generation, the source's change id, the content checksum).
``sync`` reads every source chunk (holes cost nothing: they are found with SEEK_DATA) and writes
only the chunks whose digest changed; ``sync_areas`` reads only the areas the source's change
tracking reports (aligned to whole chunks) and updates the hash map, the sums and the checksum.
The first sync writes straight into a new replica and publishes the hash map last. Later
syncs write the changed chunks into ``D.journal/`` first; the journal is committed by an atomic
rename once its data is on disk, and only then applied to the replica. A sync that stops before
the commit leaves the previous replica and hash map untouched (the journal is dropped next
time); one that stops after it is replayed by the next sync. So the replica always holds one
whole generation, and the change id stored with it names exactly what it holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from conversion.checksum import CHUNK_SIZE as SUM_CHUNK
from conversion.checksum import StreamingDigest, digest_from_chunks

CHUNK = 64 << 10
DIGEST = 16
ZERO = bytes(DIGEST)
SUM = 32  # bytes of one sha256 in D.sums
STATE_KEYS = ("chunk_size", "size", "generation", "change_id", "checksum")


class FullSyncNeeded(Exception):
    """The replica's state cannot take an area-only sync (none yet, another size, no sums): compare everything."""


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
    change_id: str | None = None  # the source's change id this generation holds (change tracking)
    checksum_bytes_read: int = 0  # replica bytes re-read to update the content checksum (area syncs)
    areas: int | None = None  # changed areas the source reported (area syncs)

    def to_dict(self) -> dict:
        return asdict(self)


class _Files:
    def __init__(self, replica_dir: Path, disk: str) -> None:
        self.replica = replica_dir / f"{disk}.raw"
        self.hashes = replica_dir / f"{disk}.hashes"
        self.meta = replica_dir / f"{disk}.sync.json"
        self.sums = replica_dir / f"{disk}.sums"
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
    """The committed sync state of a replica disk (chunk_size, size, generation, change_id, checksum), or None."""
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
    if (files.journal / "sums").exists():
        os.replace(files.journal / "sums", files.sums)
    else:
        files.sums.unlink(missing_ok=True)
    _write_atomic(files.meta, json.dumps({k: plan.get(k) for k in STATE_KEYS}).encode())
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
    chunk_size: int = CHUNK, change_id: str | None = None,
) -> SyncStats:
    """Bring ``replica_dir/<disk>.raw`` to the content of the raw image ``source``.

    Args:
        source: a raw image (the guest-visible bytes).
        replica_dir: the destination's replica directory (created if needed).
        disk: the disk's file stem in that directory.
        progress: called with (bytes scanned, total) as the sync goes; may raise to stop it,
            which leaves the previous generation in place.
        chunk_size: bytes per hashed chunk (changing it makes the next sync a full one).
        change_id: the source's change id for what this sync reads; committed with the data.
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
        for path in (files.meta, files.hashes, files.sums):
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
    digest = content.hexdigest()
    meta = {"chunk_size": chunk_size, "size": size, "generation": generation, "change_id": change_id,
            "checksum": digest}
    if full:
        _write_atomic(files.hashes, bytes(hashes))
        _write_atomic(files.sums, bytes(content.chunk_digests))
        _write_atomic(files.meta, json.dumps(meta).encode())
        return SyncStats(
            len(hashes) // DIGEST, len(changed), written, 0, read, generation, True, digest, change_id
        )
    _write_atomic(files.journal / "hashes", bytes(hashes))
    _write_atomic(files.journal / "sums", bytes(content.chunk_digests))
    plan = {**meta, "chunks": changed, "zeroed": zeroed}
    _write_atomic(files.journal / "COMMITTED", json.dumps(plan).encode())  # the commit point
    _fsync_dir(files.journal)
    _apply(files)
    return SyncStats(
        len(hashes) // DIGEST, len(changed) + len(zeroed), written + zero_bytes, written, read, generation, False,
        digest, change_id,
    )


def align(areas: list[tuple[int, int]], size: int, chunk_size: int = CHUNK) -> list[tuple[int, int]]:
    """``(offset, length)`` areas widened to whole chunks, clipped to ``size``, sorted and merged."""
    out: list[tuple[int, int]] = []
    for offset, length in sorted(areas):
        if length <= 0 or offset >= size:
            continue
        start = offset // chunk_size * chunk_size
        end = min(size, -(-(offset + length) // chunk_size) * chunk_size)
        if out and start <= out[-1][0] + out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][0] + out[-1][1], end) - out[-1][0])
        else:
            out.append((start, end - start))
    return out


def _pieces_to_chunks(
    pieces: Iterator[tuple[int, bytes]], size: int, chunk_size: int
) -> Iterator[tuple[int, bytes]]:
    """(chunk index, data) from reader pieces, which must start on chunk boundaries."""
    for offset, data in pieces:
        if offset % chunk_size:
            raise ValueError(f"a read piece at {offset} does not start on a {chunk_size}-byte chunk")
        view = memoryview(data)
        for at in range(0, len(data), chunk_size):
            part = view[at:at + chunk_size]
            if len(part) < chunk_size and offset + at + len(part) != size:
                raise ValueError(f"a read piece at {offset} ends inside a chunk")
            yield (offset + at) // chunk_size, bytes(part)


def _updated_sums(files: _Files, size: int, chunk_size: int, sums: bytearray, changed: list[int],
                  zeroed: list[int]) -> int:
    """Recompute the content sums the changed chunks fall in: old replica bytes overlaid with the
    journal's (none are read when the changed chunks cover a sum's chunk, the usual case since both
    are 64 KiB). Returns the replica bytes read for it."""
    padded = (size + 511) // 512 * 512
    touched: dict[int, list[tuple[int, bool]]] = {}
    for index, is_zero in [*((i, False) for i in changed), *((i, True) for i in zeroed)]:
        touched.setdefault(index * chunk_size // SUM_CHUNK, []).append((index, is_zero))
    read = 0
    with open(files.replica, "rb") as old, open(files.journal / "data", "rb") as new:
        for sum_index in sorted(touched):
            start = sum_index * SUM_CHUNK
            length = min(SUM_CHUNK, padded - start)
            covered = sum(min(chunk_size, size - index * chunk_size) for index, _ in touched[sum_index])
            if covered >= min(length, size - start):
                buf = bytearray(length)  # every byte is rewritten below: nothing to read back
            else:
                buf = bytearray(os.pread(old.fileno(), length, start))
                read += len(buf)
                buf.extend(bytes(length - len(buf)))
            for index, is_zero in touched[sum_index]:
                at = index * chunk_size - start
                part = min(chunk_size, size - index * chunk_size)
                buf[at:at + part] = bytes(part) if is_zero else os.pread(new.fileno(), part, index * chunk_size)
            sums[sum_index * SUM:(sum_index + 1) * SUM] = hashlib.sha256(buf).digest()
    return read


def sync_areas(
    pieces: Iterator[tuple[int, bytes]], replica_dir: Path, disk: str, size: int, change_id: str | None,
    areas: int | None = None, progress: Callable[[int, int], None] | None = None,
) -> SyncStats:
    """Apply the source's changed areas to the replica: only their chunks are read, hashed and compared.

    The caller asks the source's change tracking for the areas changed since the change id the
    replica committed (``read_state``), widens them with ``align`` and reads them; this writes
    the chunks whose digest changed through the journal, updates the hash map and the content
    checksum's sums (from the chunks it wrote), and commits
    ``change_id`` with them.

    Args:
        pieces: ``(offset, data)`` of the aligned areas, in order, each starting on a chunk.
        replica_dir: the destination's replica directory.
        disk: the disk's file stem in it.
        size: the source disk's size (must equal the replica's).
        change_id: the source's change id for what was read.
        areas: how many areas the source reported (for the stats).
        progress: called with (bytes read, total to read when known, else 0).

    Raises:
        FullSyncNeeded: there is no committed replica of that size with sums to update.
    """
    recover(replica_dir, disk)
    files = _Files(replica_dir, disk)
    state = read_state(replica_dir, disk)
    if state is None or state["chunk_size"] != CHUNK or state["size"] != size or not files.sums.exists():
        raise FullSyncNeeded("no committed replica state this sync can update")
    chunk_size = CHUNK
    hashes = bytearray(files.hashes.read_bytes())
    sums = bytearray(files.sums.read_bytes())
    sum_count = -(-((size + 511) // 512 * 512) // SUM_CHUNK)
    if len(hashes) != -(-size // chunk_size) * DIGEST or len(sums) != sum_count * SUM:
        raise FullSyncNeeded("the replica's hash map or sums do not match its size")
    generation = state["generation"] + 1
    files.journal.mkdir()
    changed: list[int] = []
    zeroed: list[int] = []
    read = reported = 0
    with open(files.journal / "data", "wb") as out:
        out.truncate(size)
        for index, data in _pieces_to_chunks(pieces, size, chunk_size):
            read += len(data)
            digest = _digest(data)
            if hashes[index * DIGEST:(index + 1) * DIGEST] != digest:
                hashes[index * DIGEST:(index + 1) * DIGEST] = digest
                if digest == ZERO:
                    zeroed.append(index)
                else:
                    out.seek(index * chunk_size)
                    out.write(data)
                    changed.append(index)
            if progress and (reported == 0 or read - reported >= 4 << 20):
                progress(read, 0)  # may raise (cancel): nothing is committed yet
                reported = read
        out.flush()
        os.fsync(out.fileno())
    if progress:
        progress(read, read)
    checksum_read = _updated_sums(files, size, chunk_size, sums, changed, zeroed)
    digest = digest_from_chunks(size, sums)
    _write_atomic(files.journal / "hashes", bytes(hashes))
    _write_atomic(files.journal / "sums", bytes(sums))
    plan = {"chunk_size": chunk_size, "size": size, "generation": generation, "change_id": change_id,
            "checksum": digest, "chunks": changed, "zeroed": zeroed}
    _write_atomic(files.journal / "COMMITTED", json.dumps(plan).encode())  # the commit point
    _fsync_dir(files.journal)
    _apply(files)
    written = sum(min(chunk_size, size - i * chunk_size) for i in changed)
    zero_bytes = sum(min(chunk_size, size - i * chunk_size) for i in zeroed)
    return SyncStats(
        len(hashes) // DIGEST, len(changed) + len(zeroed), written + zero_bytes, written, read, generation, False,
        digest, change_id, checksum_read, areas,
    )


def delete(replica_dir: Path, disk: str) -> None:
    """Remove a replica disk, its sync state and any journal."""
    files = _Files(replica_dir, disk)
    shutil.rmtree(files.journal, ignore_errors=True)
    for path in (files.replica, files.hashes, files.meta, files.sums):
        path.unlink(missing_ok=True)
