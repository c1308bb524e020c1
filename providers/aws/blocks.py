"""EBS direct APIs: snapshots written and read 512 KiB block by block, several calls in flight, SHA-256 checked.

AWS fixes the EBS direct block size at 512 KiB; ``BlockSize`` in the answers is not trusted (moto
reports 512). A block the snapshot does not list reads as zeros.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from conversion.checksum import StreamingDigest
from providers.aws.client import Aws, tag_list, wait_for
from providers.types import ProviderError, Reporter

BLOCK = 512 * 1024
GIB = 1 << 30
ZERO_BLOCK = bytes(BLOCK)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def volume_gib(size_bytes: int) -> int:
    """EBS volume sizes are whole GiB."""
    return max(1, -(-size_bytes // GIB))


def file_blocks(path: str | os.PathLike[str], size: int, indices: Iterable[int] | None = None,
                skip_zero: bool = True, digest: StreamingDigest | None = None) -> Iterator[tuple[int, bytes]]:
    """``(index, 512 KiB)`` blocks of a raw file: every block holding data (holes are skipped without reading),
    or exactly ``indices`` (zero blocks included unless ``skip_zero``: a block that became zero must overwrite
    its parent's). ``digest``, fed the whole disk in order (holes as zeros), gets the content checksum of what
    was read (only with ``indices`` None)."""
    fd = os.open(path, os.O_RDONLY)
    position = 0
    try:
        if indices is None:
            indices = _data_blocks(fd, size)
        for index in indices:
            data = os.pread(fd, BLOCK, index * BLOCK)
            if digest is not None:
                offset = index * BLOCK
                if offset > position:
                    digest.update(None, offset - position)
                digest.update(data[:size - offset] + bytes(max(0, min(BLOCK, size - offset) - len(data))))
                position = min(size, offset + BLOCK)
            if len(data) < BLOCK:
                data += bytes(BLOCK - len(data))  # past the end of the file, or the disk's last partial block
            if skip_zero and data == ZERO_BLOCK:
                continue
            yield index, data
        if digest is not None and size > position:
            digest.update(None, size - position)
    finally:
        os.close(fd)


def _data_blocks(fd: int, size: int) -> Iterator[int]:
    """Indices of the blocks that overlap data extents of a sparse file (all of them without SEEK_DATA)."""
    count = -(-size // BLOCK)
    offset = 0
    nxt = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError:  # ENXIO: no data past offset
            return
        for index in range(max(nxt, start // BLOCK), min(count, -(-end // BLOCK))):
            yield index
            nxt = index + 1
        offset = end


@dataclass
class WriteStats:
    snapshot_id: str
    blocks_written: int
    bytes_written: int


def _put(aws: Aws, snapshot_id: str, index: int, data: bytes) -> int:
    aws.call("ebs", "put_snapshot_block", SnapshotId=snapshot_id, BlockIndex=index, BlockData=data,
             DataLength=len(data), Checksum=sha256_b64(data), ChecksumAlgorithm="SHA256")
    return len(data)


def _run_parallel(items: Iterable[tuple[int, bytes]], work: Callable[[int, bytes], int], parallel: int,
                  on_done: Callable[[int], None]) -> int:
    """Run ``work`` over ``items`` with at most ``parallel`` calls in flight (2 × that many blocks read ahead);
    ``on_done`` runs in the caller's thread (it may raise ``Cancelled``: nothing new starts, in-flight calls end)."""
    count = 0
    pending: set[Future[int]] = set()
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="ebs") as pool:
        try:
            for index, data in items:
                while len(pending) >= 2 * parallel:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        on_done(fut.result())
                        count += 1
                pending.add(pool.submit(work, index, data))
            for fut in list(pending):
                on_done(fut.result())
                pending.discard(fut)
                count += 1
        finally:
            for fut in pending:
                fut.cancel()
    return count


def write_snapshot(aws: Aws, blocks: Iterable[tuple[int, bytes]], size_bytes: int, tags: dict[str, str],
                   description: str, reporter: Reporter, message: str, parallel: int = 8,
                   parent: str | None = None, total: int | None = None, timeout: float = 1800) -> WriteStats:
    """A new completed EBS snapshot holding ``blocks`` (over ``parent``'s when given).

    On any failure or cancel the pending snapshot is deleted before the error propagates.

    Args:
        aws: the clients.
        blocks: ``(index, data)`` pairs, data exactly 512 KiB.
        size_bytes: the disk's size (the snapshot's volume size is it rounded up to GiB).
        tags: tags of the snapshot (the migration id among them).
        description: the snapshot's description.
        reporter: progress (bytes written of ``total``); ``Cancelled`` stops the writes.
        message: the progress message.
        parallel: PutSnapshotBlock calls in flight.
        parent: the snapshot this one adds to (an incremental write).
        total: bytes expected, for the progress bar.
        timeout: seconds to wait for the snapshot to complete.
    """
    params = {"VolumeSize": volume_gib(size_bytes), "Tags": tag_list(tags), "Description": description[:255],
              "ClientToken": str(uuid.uuid4()), "Timeout": 60}
    if parent:
        params["ParentSnapshotId"] = parent
    started = aws.call("ebs", "start_snapshot", **params)
    snapshot_id = started["SnapshotId"]
    written = 0
    try:
        def done(nbytes: int) -> None:
            nonlocal written
            written += nbytes
            reporter.step(written, total, message)

        count = _run_parallel(blocks, lambda i, d: _put(aws, snapshot_id, i, d), parallel, done)
        aws.call("ebs", "complete_snapshot", SnapshotId=snapshot_id, ChangedBlocksCount=count)
        wait_for(lambda: aws.snapshot(snapshot_id), lambda s: s["State"] == "completed",
                 lambda s: s["State"] == "error", timeout, reporter, f"snapshot {snapshot_id}")
    except BaseException:
        delete_snapshot(aws, snapshot_id)
        raise
    return WriteStats(snapshot_id, count, written)


def delete_snapshot(aws: Aws, snapshot_id: str) -> None:
    aws.delete("delete_snapshot", ("InvalidSnapshot.NotFound",), SnapshotId=snapshot_id)


def listed_blocks(aws: Aws, snapshot_id: str) -> dict[int, str]:
    """Every block a snapshot holds: index -> block token (paginated)."""
    out: dict[int, str] = {}
    params: dict[str, object] = {"SnapshotId": snapshot_id, "MaxResults": 10000}
    while True:
        page = aws.call("ebs", "list_snapshot_blocks", **params)
        out.update({b["BlockIndex"]: b["BlockToken"] for b in page.get("Blocks", [])})
        token = page.get("NextToken")
        if not token:
            return out
        params["NextToken"] = token


def changed_blocks(aws: Aws, first: str, second: str) -> dict[int, str | None]:
    """Blocks that differ between two snapshots of one volume: index -> the second's token (None: not in it)."""
    out: dict[int, str | None] = {}
    params: dict[str, object] = {"FirstSnapshotId": first, "SecondSnapshotId": second, "MaxResults": 10000}
    while True:
        page = aws.call("ebs", "list_changed_blocks", **params)
        out.update({b["BlockIndex"]: b.get("SecondBlockToken") for b in page.get("ChangedBlocks", [])})
        token = page.get("NextToken")
        if not token:
            return out
        params["NextToken"] = token


def get_block(aws: Aws, snapshot_id: str, index: int, token: str) -> bytes:
    """One block, its SHA-256 checked against the one EBS sent."""
    answer = aws.call("ebs", "get_snapshot_block", SnapshotId=snapshot_id, BlockIndex=index, BlockToken=token)
    data = answer["BlockData"].read()
    if answer.get("Checksum") and answer.get("ChecksumAlgorithm", "SHA256") == "SHA256" and (
            sha256_b64(data) != answer["Checksum"]):
        raise ProviderError(f"snapshot {snapshot_id} block {index}: checksum mismatch")
    return data


def read_blocks(aws: Aws, snapshot_id: str, tokens: dict[int, str], parallel: int = 8) -> Iterator[tuple[int, bytes]]:
    """``(index, data)`` for ``tokens`` in index order, ``parallel`` GetSnapshotBlock calls in flight."""
    indices = sorted(tokens)
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="ebs-read") as pool:
        window: list[tuple[int, Future[bytes]]] = []
        try:
            for index in indices:
                window.append((index, pool.submit(get_block, aws, snapshot_id, index, tokens[index])))
                if len(window) >= 2 * parallel:
                    first, fut = window.pop(0)
                    yield first, fut.result()
            while window:
                first, fut = window.pop(0)
                yield first, fut.result()
        finally:
            for _index, fut in window:
                fut.cancel()


def regroup(pieces: Iterable[tuple[int, bytes]], size: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, data)`` pieces covering whole 512 KiB blocks (the last one may stop at ``size``) as
    ``(index, 512 KiB)`` blocks, zero-padded past ``size``."""
    index, parts, filled = -1, [], 0
    for offset, data in pieces:
        while data:
            block, within = divmod(offset, BLOCK)
            if block != index:
                if index >= 0:
                    yield index, b"".join(parts).ljust(BLOCK, b"\0")
                if within:
                    raise ProviderError(f"piece at {offset} does not start a {BLOCK}-byte block")
                index, parts, filled = block, [], 0
            take = min(len(data), BLOCK - within)
            if within != filled:
                raise ProviderError(f"piece at {offset} leaves a gap in block {block}")
            parts.append(data[:take])
            filled += take
            offset, data = offset + take, data[take:]
            if filled == BLOCK:
                yield index, b"".join(parts)
                index, parts, filled = -1, [], 0
    if index >= 0:
        if index * BLOCK + filled < size:
            raise ProviderError(f"block {index} is incomplete")
        yield index, b"".join(parts).ljust(BLOCK, b"\0")


def snapshot_to_file(aws: Aws, snapshot_id: str, size: int, out: str | os.PathLike[str], reporter: Reporter,
                     message: str, parallel: int = 8) -> tuple[str, int]:
    """A snapshot's blocks written into the sparse raw file ``out`` of ``size`` bytes (unlisted blocks and zero
    blocks stay holes); returns its content checksum and the number of blocks read."""
    tokens = {i: t for i, t in listed_blocks(aws, snapshot_id).items() if i * BLOCK < size}
    total, done, position = len(tokens) * BLOCK, 0, 0
    digest = StreamingDigest(size)
    reporter.step(0, total, message)
    with open(out, "wb") as fh:
        fh.truncate(size)
        for index, data in read_blocks(aws, snapshot_id, tokens, parallel):
            offset = index * BLOCK
            data = data[:size - offset]
            if offset > position:
                digest.update(None, offset - position)
            digest.update(data)
            position = offset + len(data)
            if data.count(0) != len(data):
                os.pwrite(fh.fileno(), data, offset)
            done += BLOCK
            reporter.step(done, total, message)
    if size > position:
        digest.update(None, size - position)
    return digest.hexdigest(), len(tokens)
