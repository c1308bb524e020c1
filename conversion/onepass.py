"""A disk moved in one pass and proved: the destination's content digest equals the source's, or it is gone."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from conversion import nbdstream
from conversion.errors import ConversionError
from conversion.member import Member, RangeDigest
from conversion.nbdstream import Progress, StreamStats


class ContentMismatch(ConversionError):
    """The content read or written is not the content expected; the destination was removed."""


def copy_verified(
    src: str | os.PathLike[str], src_fmt: str, dst: str | os.PathLike[str], dst_fmt: str, *,
    expected: str | None = None, member: Member | None = None, member_digest: str | None = None,
    scratch_dir: str | os.PathLike[str] | None = None, progress: Progress | None = None,
    on_copied: Callable[[StreamStats], None] | None = None,
) -> tuple[StreamStats, str]:
    """Copy ``src`` into a new ``dst`` in one pass, then read ``dst`` back through its own format driver.

    The source's ``sha256-chunked-v1`` digest is taken while it streams; the destination's must equal
    it. A source read once before (a redelivered stage) must still give ``expected``.

    Args:
        src: the source image (or the container file holding it, with ``member``), read only.
        src_fmt: its format (never probed).
        dst: the destination, created (an existing file is replaced).
        dst_fmt: its format.
        expected: the digest an earlier read of the source gave, if any.
        member: the byte range of ``src`` holding the image (an OVA's VMDK).
        member_digest: ``<hashlib name>:<hex>`` the member's raw bytes must hash to (its manifest's),
            taken on another thread while the copy reads them.
        scratch_dir: where the exports' sockets live.
        progress: called with (position reached, virtual size) during the copy.
        on_copied: called once the copy is done, before the destination is read back.

    Returns:
        What the copy did, and the destination's digest (equal to the source's).

    Raises:
        ContentMismatch: the member's bytes are not its manifest's, the source no longer gives
            ``expected``, or the destination differs from it.
        ConversionError: qemu-nbd or a transfer failed. In every case no destination is left.
    """
    raw = _start_member_digest(src, member, member_digest)
    try:
        copied = nbdstream.copy(src, src_fmt, dst, dst_fmt, scratch_dir=scratch_dir, progress=progress,
                                member=member)
    except BaseException:
        if raw is not None:
            raw.stop()
        raise
    try:
        if raw is not None and member_digest is not None:
            found = raw.result()
            if found != member_digest.split(":", 1)[1].lower():
                raise ContentMismatch(f"{os.fspath(src)}: the image at {raw.member.offset} does not match its "
                                      f"manifest {raw.algorithm} digest")
            copied = replace(copied, file_bytes_read=(copied.file_bytes_read or 0) + raw.bytes_read,
                             storage_bytes_read=(copied.storage_bytes_read or 0) + raw.storage_bytes_read)
        if expected is not None and copied.digest != expected:
            raise ContentMismatch(f"{os.fspath(src)}: the source changed since it was first read "
                                  f"(digest {copied.digest}, expected {expected})")
        if on_copied is not None:
            on_copied(copied)
        written = nbdstream.digest(dst, dst_fmt, scratch_dir=scratch_dir, trusted=True).digest
        if written != copied.digest:
            raise ContentMismatch(f"{os.fspath(dst)}: the converted content differs from the source "
                                  f"(digest {written}, source {copied.digest})")
    except BaseException:
        Path(dst).unlink(missing_ok=True)
        raise
    return copied, written


def _start_member_digest(
    src: str | os.PathLike[str], member: Member | None, member_digest: str | None
) -> RangeDigest | None:
    if member_digest is None:
        return None
    if member is None or ":" not in member_digest:
        raise ConversionError(f"a member digest is <algorithm>:<hex> of a member, not {member_digest!r}")
    algorithm = member_digest.split(":", 1)[0]
    try:
        return RangeDigest(os.fspath(src), member, algorithm)
    except ValueError as exc:
        raise ConversionError(f"unknown digest algorithm {algorithm!r}") from exc
