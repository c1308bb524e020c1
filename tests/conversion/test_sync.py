"""Incremental replica sync: only changed chunks are written; a stopped sync keeps the old generation."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conversion import sync

CHUNK = 64 << 10


def _image(path: Path, size: int, chunks: dict[int, bytes]) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
        for index, fill in chunks.items():
            fh.seek(index * CHUNK)
            fh.write(fill * (CHUNK // len(fill)))
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_sync_copies_data_and_keeps_holes(tmp_path):
    src = _image(tmp_path / "src.raw", 64 * CHUNK, {0: b"a", 7: b"b", 63: b"c"})
    stats = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    replica = tmp_path / "rep" / "d0.raw"
    assert _digest(replica) == _digest(src)
    assert stats.full and stats.generation == 1 and stats.chunks_total == 64
    assert stats.bytes_written == 3 * CHUNK and stats.journal_bytes == 0
    assert stats.bytes_read == 3 * CHUNK  # holes are skipped, not read
    assert replica.stat().st_blocks * 512 <= 8 * CHUNK  # holes stayed holes
    assert not (tmp_path / "rep" / "d0.journal").exists()


def test_second_sync_writes_only_changed_chunks(tmp_path):
    src = _image(tmp_path / "src.raw", 64 * CHUNK, {0: b"a", 7: b"b", 63: b"c"})
    sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    _image(src, 64 * CHUNK, {0: b"a", 7: b"X", 20: b"n"})  # 7 changed, 20 new, 63 zeroed
    stats = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    assert _digest(tmp_path / "rep" / "d0.raw") == _digest(src)
    assert not stats.full and stats.generation == 2
    assert stats.chunks_written == 3 and stats.bytes_written == 3 * CHUNK
    again = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    assert again.chunks_written == 0 and again.generation == 3


def test_a_sync_stopped_before_commit_keeps_the_previous_generation(tmp_path):
    src = _image(tmp_path / "src.raw", 32 * CHUNK, {1: b"a", 2: b"b"})
    sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    before = _digest(tmp_path / "rep" / "d0.raw")
    _image(src, 32 * CHUNK, {1: b"Z", 2: b"Y", 30: b"W"})

    def stop(done, total):
        if done > 10 * CHUNK:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync.sync(src, tmp_path / "rep", "d0", progress=stop, chunk_size=CHUNK)
    assert _digest(tmp_path / "rep" / "d0.raw") == before
    assert sync.read_state(tmp_path / "rep", "d0")["generation"] == 1
    stats = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)  # resumes
    assert _digest(tmp_path / "rep" / "d0.raw") == _digest(src) and stats.chunks_written == 3


def test_a_committed_journal_is_replayed(tmp_path, monkeypatch):
    src = _image(tmp_path / "src.raw", 16 * CHUNK, {3: b"a"})
    sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    _image(src, 16 * CHUNK, {3: b"q", 9: b"r"})
    real_apply = sync._apply

    def crash_after_commit(*args):
        raise OSError("power cut")

    monkeypatch.setattr(sync, "_apply", crash_after_commit)
    with pytest.raises(OSError):
        sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    assert (tmp_path / "rep" / "d0.journal" / "COMMITTED").exists()
    monkeypatch.setattr(sync, "_apply", real_apply)
    sync.recover(tmp_path / "rep", "d0")
    assert _digest(tmp_path / "rep" / "d0.raw") == _digest(src)
    assert sync.read_state(tmp_path / "rep", "d0")["generation"] == 2


def test_a_first_sync_that_stops_leaves_no_state_and_is_redone_fully(tmp_path):
    src = _image(tmp_path / "src.raw", 32 * CHUNK, {1: b"a", 20: b"b"})

    def stop(done, total):
        if done > 8 * CHUNK:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync.sync(src, tmp_path / "rep", "d0", progress=stop, chunk_size=CHUNK)
    assert sync.read_state(tmp_path / "rep", "d0") is None
    stats = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    assert stats.full and _digest(tmp_path / "rep" / "d0.raw") == _digest(src)


def test_scattered_small_writes_cost_about_what_changed(tmp_path):
    size = 256 * CHUNK
    src = _image(tmp_path / "src.raw", size, {i: b"d" for i in range(0, 256, 2)})
    sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    with open(src, "r+b") as fh:
        for i in range(5, 256, 37):
            fh.seek(i * CHUNK)
            fh.write(os.urandom(CHUNK))
    stats = sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    changed = len(range(5, 256, 37)) * CHUNK
    assert stats.bytes_written == changed and stats.bytes_written <= 1.2 * changed
    assert _digest(tmp_path / "rep" / "d0.raw") == _digest(src)


def test_delete_removes_everything(tmp_path):
    src = _image(tmp_path / "src.raw", 4 * CHUNK, {0: b"a"})
    sync.sync(src, tmp_path / "rep", "d0", chunk_size=CHUNK)
    sync.delete(tmp_path / "rep", "d0")
    assert os.listdir(tmp_path / "rep") == []


@pytest.mark.parametrize("size", [64 * CHUNK, 64 * CHUNK + 4096, 3 * (1 << 20) + 512 * 7, 1000])
def test_the_sync_digest_is_the_content_checksum(tmp_path, size):
    from conversion import checksum

    path = tmp_path / "src.raw"
    with open(path, "wb") as fh:
        fh.truncate(size)
        for offset in (0, size // 3, size - min(size, 777)):
            fh.seek(offset)
            fh.write(os.urandom(min(777, size - offset)))
    stats = sync.sync(path, tmp_path / "rep", "d0", chunk_size=CHUNK)
    assert stats.checksum == checksum(path, "raw")
    assert sync.sync(path, tmp_path / "rep", "d0", chunk_size=CHUNK).checksum == stats.checksum


def _pieces(path: Path, areas: list[tuple[int, int]]):
    with open(path, "rb") as fh:
        for offset, length in areas:
            fh.seek(offset)
            data = fh.read(length)
            yield offset, data + bytes(length - len(data))


@pytest.mark.parametrize("size", [48 * CHUNK, 3 * (1 << 20) + 512 * 7, 5 * (1 << 20) + 1000])
def test_an_area_sync_reads_only_the_areas_and_keeps_hashes_and_checksum_right(tmp_path, size):
    from conversion import checksum

    src = tmp_path / "src.raw"
    with open(src, "wb") as fh:
        fh.truncate(size)
        for offset in range(0, size, 5 * CHUNK):
            fh.seek(offset)
            fh.write(os.urandom(min(CHUNK, size - offset)))
    first = sync.sync(src, tmp_path / "rep", "d0", change_id="c1")
    assert sync.read_state(tmp_path / "rep", "d0")["change_id"] == "c1"
    assert first.change_id == "c1"
    # the source changes: new data in one area (unaligned), zeros over a data chunk, same bytes rewritten
    changes = [(CHUNK + 100, 3000), (5 * CHUNK, CHUNK), (10 * CHUNK, CHUNK), (size - 10, 10)]
    with open(src, "r+b") as fh:
        fh.seek(CHUNK + 100)
        fh.write(os.urandom(3000))
        fh.seek(5 * CHUNK)
        fh.write(bytes(CHUNK))
        fh.seek(size - 10)
        fh.write(b"0123456789")
    areas = sync.align(changes, size)
    assert areas[0] == (CHUNK, CHUNK)
    stats = sync.sync_areas(_pieces(src, areas), tmp_path / "rep", "d0", size, "c2", areas=len(changes))
    assert not stats.full and stats.generation == 2 and stats.change_id == "c2" and stats.areas == 4
    assert stats.bytes_read == sum(length for _o, length in areas)
    # chunk 10 was read but held the same bytes: not written; chunk 5 was zeroed
    assert stats.chunks_written == 3
    assert _digest(tmp_path / "rep" / "d0.raw") == _digest(src)
    assert stats.checksum == checksum(src, "raw") == sync.read_state(tmp_path / "rep", "d0")["checksum"]
    assert stats.checksum_bytes_read <= 3 * (1 << 20)
    # the hash map stayed consistent: a full compare afterwards finds nothing to write
    again = sync.sync(src, tmp_path / "rep", "d0", change_id="c3")
    assert again.chunks_written == 0 and again.checksum == stats.checksum


def test_an_area_sync_needs_a_committed_replica_of_the_same_size(tmp_path):
    src = _image(tmp_path / "src.raw", 16 * CHUNK, {0: b"a"})
    with pytest.raises(sync.FullSyncNeeded):
        sync.sync_areas(iter([]), tmp_path / "rep", "d0", 16 * CHUNK, "c1")
    sync.sync(src, tmp_path / "rep", "d0")
    with pytest.raises(sync.FullSyncNeeded):
        sync.sync_areas(iter([]), tmp_path / "rep", "d0", 32 * CHUNK, "c1")
    (tmp_path / "rep" / "d0.sums").unlink()  # a replica synced before sums existed
    with pytest.raises(sync.FullSyncNeeded):
        sync.sync_areas(iter([]), tmp_path / "rep", "d0", 16 * CHUNK, "c1")


def test_an_area_sync_stopped_before_commit_keeps_the_previous_generation_and_change_id(tmp_path):
    src = _image(tmp_path / "src.raw", 32 * CHUNK, {1: b"a", 2: b"b"})
    sync.sync(src, tmp_path / "rep", "d0", change_id="c1")
    before = _digest(tmp_path / "rep" / "d0.raw")
    _image(src, 32 * CHUNK, {1: b"Z", 2: b"Y"})

    def stop(done, total):
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        sync.sync_areas(_pieces(src, [(CHUNK, 2 * CHUNK)]), tmp_path / "rep", "d0", 32 * CHUNK, "c2", progress=stop)
    assert _digest(tmp_path / "rep" / "d0.raw") == before
    sync.recover(tmp_path / "rep", "d0")
    assert sync.read_state(tmp_path / "rep", "d0")["change_id"] == "c1"
