"""A disk moved in one pass and proved: the destination's content digest equals the source's, or it is gone."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from conversion import nbdstream
from conversion.errors import ConversionError
from conversion.member import Member
from conversion.nbdstream import Progress, StreamStats


class ContentMismatch(ConversionError):
    """The content read or written is not the content expected; the destination was removed."""


def copy_verified(
    src: str | os.PathLike[str], src_fmt: str, dst: str | os.PathLike[str], dst_fmt: str, *,
    expected: str | None = None, member: Member | None = None,
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
        scratch_dir: where the exports' sockets live.
        progress: called with (position reached, virtual size) during the copy.
        on_copied: called once the copy is done, before the destination is read back.

    Returns:
        What the copy did, and the destination's digest (equal to the source's).

    Raises:
        ContentMismatch: the source no longer gives ``expected``, or the destination differs from it.
        ConversionError: qemu-nbd or a transfer failed. In every case no destination is left.
    """
    copied = nbdstream.copy(src, src_fmt, dst, dst_fmt, scratch_dir=scratch_dir, progress=progress, member=member)
    try:
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
