"""A thin wrapper around the qemu-img command: info, map, convert (with progress), compare."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conversion.errors import ConversionError
from conversion.formats import VMDK_SUBFORMATS, qemu_format, user_format
from conversion.member import Member, qemu_name

QEMU_IMG = "qemu-img"
STDERR_TAIL_LINES = 8

# '-p' prints "    (12.34/100%)" chunks separated by '\r'.
_PROGRESS = re.compile(rb"\((\d+(?:[.,]\d+)?)/100%\)")

ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class ImageInfo:
    """What ``qemu-img info`` says about an image.

    ``format`` is the user-facing name (``vhd`` for qemu's ``vpc``); ``subformat`` is the
    VMDK create-type (``streamOptimized``, ``monolithicSparse``...) or None.
    """

    path: str
    format: str
    virtual_size: int
    actual_size: int | None = None
    cluster_size: int | None = None
    subformat: str | None = None
    backing_file: str | None = None
    dirty: bool = False
    format_specific: dict[str, Any] = field(default_factory=dict)

    @property
    def extent_files(self) -> tuple[str, ...]:
        """Files a VMDK descriptor points to (empty for other formats)."""
        extents = self.format_specific.get("extents") or []
        return tuple(str(e.get("filename", "")) for e in extents)


@dataclass(frozen=True)
class Extent:
    """One range of ``qemu-img map``: ``zero`` ranges read as zeros to the guest."""

    start: int
    length: int
    data: bool
    zero: bool


def _tail(text: str | bytes, lines: int = STDERR_TAIL_LINES) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(args: list[str], what: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run([QEMU_IMG, *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise ConversionError(f"{what}: {QEMU_IMG} is not installed") from exc
    if proc.returncode not in ok:
        raise ConversionError(what, _tail(proc.stderr), proc.returncode)
    return proc


def _load_json(proc: subprocess.CompletedProcess[bytes], what: str) -> Any:
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise ConversionError(f"{what}: qemu-img printed unreadable JSON") from exc


def info(path: str | os.PathLike[str], fmt: str, member: Member | None = None) -> ImageInfo:
    """Read an image's header with ``qemu-img info --output=json -f FMT``.

    The format is always given: probing untrusted input is unsafe (and a fixed VHD
    probes as raw).

    Args:
        path: the image file.
        fmt: the format it claims to be (user-facing or qemu name).
        member: the byte range of ``path`` holding the image (an OVA's tar member); None: all of it.
            ``ImageInfo.path`` is then the name qemu opened.

    Raises:
        ConversionError: qemu-img cannot open it as ``fmt``.
    """
    driver = qemu_format(fmt)
    what = f"cannot read {os.fspath(path)} as {fmt}"
    name = qemu_name(path, member)
    data = _load_json(_run(["info", "--output=json", "-f", driver, name], what), what)
    specific = (data.get("format-specific") or {}).get("data") or {}
    return ImageInfo(
        path=name,
        format=user_format(data.get("format", driver)),
        virtual_size=int(data["virtual-size"]),
        actual_size=data.get("actual-size"),
        cluster_size=data.get("cluster-size"),
        subformat=specific.get("create-type"),
        backing_file=data.get("full-backing-filename") or data.get("backing-filename"),
        dirty=bool(data.get("dirty-flag", False)),
        format_specific=specific,
    )


def map_extents(path: str | os.PathLike[str], fmt: str) -> list[Extent]:
    """The allocation map of an image (``qemu-img map --output=json -f FMT``).

    Args:
        path: the image file.
        fmt: its format.
    """
    what = f"cannot map {os.fspath(path)} as {fmt}"
    rows = _load_json(
        _run(["map", "--output=json", "-f", qemu_format(fmt), os.fspath(path)], what), what
    )
    return [
        Extent(int(r["start"]), int(r["length"]), bool(r.get("data")), bool(r.get("zero")))
        for r in rows
    ]


def _create_options(
    dst_driver: str, vmdk_subformat: str | None, vhd_fixed: bool, compress: bool
) -> list[str]:
    opts: list[str] = []
    if dst_driver == "vmdk":
        sub = vmdk_subformat or "monolithicSparse"
        if sub not in VMDK_SUBFORMATS:
            raise ConversionError(f"unsupported VMDK subformat {sub!r} (known: {', '.join(VMDK_SUBFORMATS)})")
        opts.append(f"subformat={sub}")
    elif vmdk_subformat:
        raise ConversionError("vmdk_subformat only applies to vmdk output")
    if dst_driver == "vpc":
        # Without force_size the size is rounded to a CHS geometry and changes.
        opts += [f"subformat={'fixed' if vhd_fixed else 'dynamic'}", "force_size=on"]
    elif vhd_fixed:
        raise ConversionError("vhd_fixed only applies to vhd output")
    if compress:
        if dst_driver != "qcow2":
            raise ConversionError("compression is only supported for qcow2 output")
        opts.append("compression_type=zstd")
    return ["-o", ",".join(opts)] if opts else []


def _external_files(image: ImageInfo) -> list[str]:
    """Files other than the image (or, for a VMDK descriptor, its folder) that qemu would read."""
    out = [str(image.format_specific["data-file"])] if image.format_specific.get("data-file") else []
    folder = os.path.dirname(os.path.realpath(image.path))
    for extent in image.extent_files:
        if os.path.dirname(os.path.realpath(extent)) != folder:
            out.append(extent)
    return list(dict.fromkeys(out))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def convert(
    src: str | os.PathLike[str],
    src_fmt: str,
    dst: str | os.PathLike[str],
    dst_fmt: str,
    *,
    progress: ProgressCallback | None = None,
    vmdk_subformat: str | None = None,
    vhd_fixed: bool = False,
    compress: bool = False,
    allow_backing: bool = False,
) -> ImageInfo:
    """Convert an image with ``qemu-img convert -p -W -m 8 -f SRC -O DST``.

    Zero and unallocated ranges are not written, so the target stays sparse.
    On any failure (qemu-img error, or ``progress`` raising, e.g. a cancellation)
    qemu-img is killed, the partial ``dst`` is removed and the error propagates.

    Args:
        src: the source image.
        src_fmt: its format (never probed).
        dst: the file to create (overwritten if it exists).
        dst_fmt: the target format.
        progress: called with the percentage done (0-100), rising, as qemu-img reports it.
        vmdk_subformat: ``monolithicSparse`` (default) or ``streamOptimized`` for vmdk output.
        vhd_fixed: write a fixed VHD instead of a dynamic one (always with ``force_size=on``).
        compress: compress qcow2 output with zstd.
        allow_backing: accept a source that names a backing file (refused by default:
            an untrusted image could point qemu-img at any host file).

    Returns:
        ``info`` of the written image.

    Raises:
        ConversionError: with the tail of qemu-img's stderr.
    """
    src_s, dst_s = os.fspath(src), os.fspath(dst)
    src_driver, dst_driver = qemu_format(src_fmt), qemu_format(dst_fmt)
    options = _create_options(dst_driver, vmdk_subformat, vhd_fixed, compress)
    src_info = info(src_s, src_fmt)
    if src_info.backing_file and not allow_backing:
        raise ConversionError(f"{src_s} has a backing file ({src_info.backing_file}); refusing it")
    external = _external_files(src_info)
    if external and not allow_backing:
        raise ConversionError(f"{src_s} reads data from other files ({', '.join(external)}); refusing it")
    args = [QEMU_IMG, "convert", "-p", "-W", "-m", "8", "-f", src_driver, "-O", dst_driver, *options]
    if compress:
        args.append("-c")
    args += [src_s, dst_s]
    what = f"cannot convert {src_s} ({src_fmt}) to {dst_s} ({dst_fmt})"
    _run_with_progress(args, what, dst_s, progress)
    return info(dst_s, dst_fmt)


def _run_with_progress(args: list[str], what: str, dst: str, progress: ProgressCallback | None) -> None:
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise ConversionError(f"{what}: {QEMU_IMG} is not installed") from exc
        try:
            _follow_progress(proc, progress)
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            _remove(dst)
            raise
        finally:
            if proc.stdout:
                proc.stdout.close()
        if returncode != 0:
            _remove(dst)
            err.seek(0)
            raise ConversionError(what, _tail(err.read()), returncode)


def _follow_progress(proc: subprocess.Popen[bytes], progress: ProgressCallback | None) -> None:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    last = -1.0
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return
        pending += chunk
        *done, pending = re.split(rb"[\r\n]", pending)
        for piece in done:
            match = _PROGRESS.search(piece)
            if match and progress is not None:
                value = float(match.group(1).replace(b",", b"."))
                if value > last:
                    last = value
                    progress(value)


def compare(
    a: str | os.PathLike[str],
    a_fmt: str,
    b: str | os.PathLike[str],
    b_fmt: str,
    *,
    same_size: bool = False,
) -> bool:
    """Whether two images show the guest the same content (``qemu-img compare -f -F``).

    Allocation may differ (a hole equals written zeros). Without ``same_size``, an image
    longer than the other compares equal when its extra tail reads as zeros.

    Args:
        a, b: the images.
        a_fmt, b_fmt: their formats.
        same_size: also require equal virtual sizes.

    Raises:
        ConversionError: qemu-img could not compare them (exit code 2 or more).
    """
    if same_size and info(a, a_fmt).virtual_size != info(b, b_fmt).virtual_size:
        return False
    args = ["compare", "-f", qemu_format(a_fmt), "-F", qemu_format(b_fmt), os.fspath(a), os.fspath(b)]
    proc = _run(args, f"cannot compare {os.fspath(a)} with {os.fspath(b)}", ok=(0, 1))
    return proc.returncode == 0
