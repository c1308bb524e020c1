"""Disk data through the datastore HTTP file interface (``/folder/<path>?dcPath=&dsName=``)."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import requests

from providers.types import ProviderError, Reporter

MIB = 1 << 20
DESCRIPTOR_LIMIT = 64 * 1024
SPARSE_MAGIC = b"KDMV"
ZERO_BLOCK = 64 * 1024
_ZEROS = bytes(ZERO_BLOCK)
RAW_EXTENT_TYPES = ("FLAT", "VMFS")
_DATASTORE_PATH = re.compile(r"^\[(?P<ds>[^\]]+)\]\s*(?P<path>.+)$")
_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]+)"(?:\s+(\d+))?\s*$')
_PARENT_CID = re.compile(r"^parentCID\s*=\s*(\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Extent:
    """One extent line of a VMDK descriptor."""

    sectors: int
    kind: str
    file_name: str
    offset: int


def split_datastore_path(value: str) -> tuple[str, str]:
    """``[LocalDS_0] vm/disk.vmdk`` → (``LocalDS_0``, ``vm/disk.vmdk``)."""
    match = _DATASTORE_PATH.match(value.strip())
    if not match:
        raise ProviderError(f"{value!r} is not a datastore path ([datastore] folder/file)")
    path = match["path"].strip()
    if path.startswith("/") or ".." in path.split("/"):
        raise ProviderError(f"datastore path {value!r} leaves its datastore; refused")
    return match["ds"], path


def parse_descriptor(text: str) -> tuple[list[Extent], bool]:
    """The extents of a VMDK text descriptor, and whether it names a parent disk."""
    extents = []
    for line in text.splitlines():
        match = _EXTENT.match(line.strip())
        if match:
            extents.append(Extent(int(match[2]), match[3].upper(), match[4], int(match[5] or 0)))
    parent = _PARENT_CID.search(text)
    has_parent = bool(parent and parent[1].lower() != "ffffffff")
    return extents, has_parent


class DatastoreReader:
    """Reads datastore files over HTTPS with a vSphere session cookie.

    Args:
        host: the vCenter/ESXi host (already checked against the endpoint policy).
        port: its HTTPS port.
        dc_path: inventory path of the datacenter.
        cookie: ``vmware_soap_session=...``.
        verify: verify the certificate.
        chunk_size: bytes per read (progress is reported between reads).
        scheme: ``https`` (``http`` only for local test servers).
    """

    def __init__(
        self, host: str, port: int, dc_path: str, cookie: str, *, verify: bool = True,
        chunk_size: int = 8 * MIB, scheme: str = "https", timeout: float = 60,
    ) -> None:
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.base = f"{scheme}://{shown}:{port}"
        self.dc_path = dc_path
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        self.session.headers["Cookie"] = cookie

    def url(self, datastore: str, path: str) -> str:
        query = urlencode({"dcPath": self.dc_path, "dsName": datastore})
        return f"{self.base}/folder/{quote(path)}?{query}"

    def open(self, datastore: str, path: str) -> requests.Response:
        label = f"[{datastore}] {path}"
        try:
            response = self.session.get(
                self.url(datastore, path), stream=True, timeout=self.timeout, verify=self.verify
            )
        except requests.RequestException as exc:
            raise ProviderError(f"cannot read {label} from the datastore: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            response.close()
            reason = {401: "not authorized", 403: "forbidden", 404: "not found"}.get(response.status_code, "error")
            raise ProviderError(f"reading {label} from the datastore: HTTP {response.status_code} ({reason})")
        return response

    def close(self) -> None:
        self.session.close()


def _write_sparse(f: BinaryIO, chunk: bytes) -> None:
    """Write ``chunk``, seeking over all-zero blocks so the staging file stays sparse."""
    view = memoryview(chunk)
    for at in range(0, len(view), ZERO_BLOCK):
        block = view[at:at + ZERO_BLOCK]
        if block == _ZEROS[:len(block)]:
            f.seek(len(block), os.SEEK_CUR)
        else:
            f.write(block)


def copy_response(
    response: requests.Response, first: bytes, out: Path, reporter: Reporter, label: str, total: int | None,
    chunk_size: int, source: str = "the datastore",
) -> int:
    """Write ``first`` then the rest of ``response`` to ``out`` (sparse), reporting between chunks.

    ``source`` names the sender in error messages (``the datastore``, ``the export lease``).
    """
    done = 0
    with open(out, "wb") as f:
        if first:
            _write_sparse(f, first)
            done = len(first)
            reporter.step(done, total, f"{label}: {done // MIB} MiB read")
        try:
            for chunk in response.iter_content(chunk_size=chunk_size):
                _write_sparse(f, chunk)
                done += len(chunk)
                reporter.step(done, total, f"{label}: {done // MIB} MiB read")
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise ProviderError(f"{label}: the read from {source} broke after {done} bytes ({reason})") from None
        f.truncate(done)
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != done:
        raise ProviderError(f"{label}: {source} sent {done} of {expected} bytes")
    return done


def _first_bytes(response: requests.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of the body (at least the first chunk)."""
    data = b""
    for chunk in response.iter_content(chunk_size=min(limit, MIB)):
        data += chunk
        if data[:4] == SPARSE_MAGIC or len(data) >= limit:
            break
    return data


def fetch_disk(
    reader: DatastoreReader, datastore_path: str, out_stem: Path, reporter: Reporter, label: str
) -> tuple[Path, str]:
    """Copy a VMDK from the datastore to ``<out_stem>.<format>.part``; returns (that file, format).

    A monolithic sparse VMDK is copied as is (``vmdk``); a descriptor with one flat extent
    (``monolithicFlat``, VMFS ``vmfs``) has its extent copied as a ``raw`` image. The caller
    renames the file when it verifies, and removes it on failure.
    """
    datastore, path = split_datastore_path(datastore_path)
    response = reader.open(datastore, path)
    try:
        total = response.headers.get("Content-Length")
        head = _first_bytes(response, DESCRIPTOR_LIMIT)
        if head[:4] == SPARSE_MAGIC:
            out = out_stem.with_name(out_stem.name + ".vmdk.part")
            size = int(total) if total and total.isdigit() else None
            copy_response(response, head, out, reporter, label, size, reader.chunk_size)
            return out, "vmdk"
        if len(head) >= DESCRIPTOR_LIMIT:
            raise ProviderError(f"{datastore_path} is neither a sparse VMDK nor a descriptor")
    finally:
        response.close()
    extents, has_parent = parse_descriptor(head.decode("utf-8", "replace"))
    if has_parent:
        raise ProviderError(f"{datastore_path} is a snapshot delta (it names a parent disk)")
    if len(extents) != 1 or extents[0].kind not in RAW_EXTENT_TYPES or extents[0].offset:
        kinds = ", ".join(e.kind for e in extents) or "none"
        raise ProviderError(f"{datastore_path}: unsupported VMDK layout (extents: {kinds}); expected one flat extent")
    name = extents[0].file_name
    if "/" in name or name in (".", ".."):
        raise ProviderError(f"{datastore_path}: extent {name!r} is outside the disk's folder; refused")
    out = out_stem.with_name(out_stem.name + ".raw.part")
    response = reader.open(datastore, posixpath.join(posixpath.dirname(path), name))
    try:
        written = copy_response(response, b"", out, reporter, label, extents[0].sectors * 512, reader.chunk_size)
    finally:
        response.close()
    size = extents[0].sectors * 512
    if written < size:
        raise ProviderError(f"{datastore_path}: the extent holds {written} bytes, the descriptor says {size}")
    if written > size:
        os.truncate(out, size)
    return out, "raw"


def remove(path: Path) -> None:
    if path.exists() or os.path.islink(path):
        path.unlink()
