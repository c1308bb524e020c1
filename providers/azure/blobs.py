"""A raw disk uploaded as a fixed-VHD page blob: non-zero 4 MiB ranges only, several in flight, footer last."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from conversion.checksum import StreamingDigest
from providers.azure.vhd import FOOTER_SIZE, footer, vhd_size
from providers.types import ProviderError, Reporter

RANGE = 4 << 20  # the largest page write Azure takes
ZERO_RANGE = bytes(RANGE)


@dataclass
class Uploaded:
    url: str
    virtual_size: int
    ranges_written: int
    bytes_written: int
    checksum: str


def _ranges(fd: int, size: int) -> Iterator[int]:
    """Offsets of the 4 MiB ranges that overlap data extents of a sparse file."""
    offset, nxt = 0, 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError:
            return
        for index in range(max(nxt, start // RANGE), -(-min(end, size) // RANGE)):
            yield index * RANGE
            nxt = index + 1
        offset = end


def upload_vhd(container: ContainerClient, name: str, path: str | os.PathLike[str], size: int,
               metadata: dict[str, str], reporter: Reporter, message: str, parallel: int = 8) -> Uploaded:
    """Upload the raw disk ``path`` as the page blob ``name``: a fixed VHD of ``size`` rounded up to 1 MiB.

    Only ranges holding non-zero bytes are written (a new page blob reads as zeros). A failure or
    cancel deletes the partial blob before the error propagates.
    """
    vsize = vhd_size(size)
    blob = container.get_blob_client(name)
    try:
        blob.create_page_blob(size=vsize + FOOTER_SIZE, metadata=metadata)
    except AzureError as exc:
        raise ProviderError(f"page blob {name}: {exc}") from None
    digest = StreamingDigest(vsize)
    written = count = 0
    position = 0
    pending: set[Future[int]] = set()

    def put(offset: int, data: bytes) -> int:
        blob.upload_page(data, offset=offset, length=len(data))
        return len(data)

    def settle(done: set[Future[int]]) -> None:
        nonlocal written, count
        for fut in done:
            written += fut.result()
            count += 1
        reporter.step(written, vsize, message)

    try:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="page") as pool, \
                open(path, "rb") as fh:
            try:
                for offset in _ranges(fh.fileno(), size):
                    length = min(RANGE, vsize - offset)
                    data = os.pread(fh.fileno(), length, offset).ljust(length, b"\0")
                    if offset > position:
                        digest.update(None, offset - position)
                    digest.update(data)
                    position = offset + length
                    if data == ZERO_RANGE[:length]:
                        continue
                    while len(pending) >= 2 * parallel:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        settle(done)
                    pending.add(pool.submit(put, offset, data))
                settle(set(pending))
                pending.clear()
            finally:
                for fut in pending:
                    fut.cancel()
        if vsize > position:
            digest.update(None, vsize - position)
        blob.upload_page(footer(vsize), offset=vsize, length=FOOTER_SIZE)
    except BaseException as exc:
        delete_blob(container, name)
        if isinstance(exc, AzureError):
            raise ProviderError(f"page blob {name}: {exc}") from None
        raise
    return Uploaded(blob.url, vsize, count, written, digest.hexdigest())


def delete_blob(container: ContainerClient, name: str) -> None:
    try:
        container.delete_blob(name, delete_snapshots="include")
    except ResourceNotFoundError:
        pass
    except AzureError as exc:
        raise ProviderError(f"deleting blob {name}: {exc}") from None


def blobs_with(container: ContainerClient, metadata: dict[str, str]) -> list[Any]:
    """The blobs whose metadata holds every item of ``metadata``."""
    try:
        return [b for b in container.list_blobs(include=["metadata"])
                if all((b.metadata or {}).get(k) == v for k, v in metadata.items())]
    except ResourceNotFoundError:
        return []
    except AzureError as exc:
        raise ProviderError(f"listing blobs: {exc}") from None
