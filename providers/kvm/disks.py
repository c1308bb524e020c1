"""Disk image operations of the kvm destination: inspect, sparse copy, convert, overlay."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from providers import localpaths
from providers.types import ProviderError, Reporter

CHUNK_BYTES = 8 * 1024 * 1024
_PROGRESS_RE = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def image_info(path: str | Path, fmt: str) -> dict[str, Any]:
    """``qemu-img info --output=json`` of ``path`` read as ``fmt`` (never probed).

    Args:
        path: the image file.
        fmt: the format it must be read as (qcow2, raw...).
    """
    proc = subprocess.run(
        ["qemu-img", "info", "--output=json", "-f", fmt, str(path)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise ProviderError(f"qemu-img info {path} ({fmt}) failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def remove_quietly(path: str | Path) -> None:
    """Remove a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def same_filesystem(src: str | Path, dest_dir: str | Path) -> bool:
    """Whether a rename from ``src`` into ``dest_dir`` would work."""
    return os.stat(src).st_dev == os.stat(dest_dir).st_dev


def _data_ranges(fd: int, size: int) -> list[tuple[int, int]]:
    """The (start, end) ranges of ``fd`` that hold data; the whole file if holes are unsupported."""
    ranges: list[tuple[int, int]] = []
    offset = 0
    try:
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, end))
            offset = end
    except (AttributeError, OSError):
        return [(0, size)]
    return ranges


def sparse_copy(src: str | Path, dest: str | Path, reporter: Reporter, label: str = "") -> None:
    """Copy ``src`` to ``dest`` chunk by chunk, leaving holes and zero chunks unwritten.

    Reports progress between chunks; on ``Cancelled`` (or any error) ``dest`` is removed.

    Args:
        src: the file to copy.
        dest: the new file (overwritten).
        reporter: progress channel; its ``step`` may raise ``Cancelled``.
        label: what the progress messages call the copy.
    """
    size = os.path.getsize(src)
    zero = bytes(CHUNK_BYTES)
    done = 0
    try:
        with open(src, "rb") as fin, localpaths.create_private(dest, os.fstat(fin.fileno()).st_mode) as fout:
            for start, end in _data_ranges(fin.fileno(), size):
                offset = start
                while offset < end:
                    length = min(CHUNK_BYTES, end - offset)
                    fin.seek(offset)
                    chunk = fin.read(length)
                    if not chunk:
                        break
                    if chunk != zero[: len(chunk)]:
                        fout.seek(offset)
                        fout.write(chunk)
                    offset += len(chunk)
                    done += len(chunk)
                    reporter.step(done, size, f"copying {label}".strip())
            fout.truncate(size)
            fout.flush()
            os.fsync(fout.fileno())
    except BaseException:
        remove_quietly(dest)
        raise


def convert_image(
    src: str | Path, src_format: str, dest: str | Path, dest_format: str, reporter: Reporter
) -> None:
    """``qemu-img convert -f SRC -O DST`` with progress; on ``Cancelled`` qemu-img is stopped.

    Args:
        src: the source image.
        src_format: its format, given explicitly (probing is unsafe).
        dest: the new image (removed if the conversion fails or is cancelled).
        dest_format: qcow2 or raw.
        reporter: progress channel; its ``step`` may raise ``Cancelled``.
    """
    argv = ["qemu-img", "convert", "-p", "-f", src_format, "-O", dest_format, str(src), str(dest)]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        try:
            buf = b""
            reporter.step(0, 100, f"converting to {dest_format}")
            while data := proc.stdout.read1(4096):
                buf = (buf + data)[-256:]
                found = _PROGRESS_RE.findall(buf)
                if found:
                    reporter.step(int(float(found[-1])), 100, f"converting to {dest_format}")
            if proc.wait() != 0:
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()
                raise ProviderError(f"qemu-img convert {src} -> {dest_format} failed: {message}")
        except BaseException:
            stop_process(proc)
            remove_quietly(dest)
            raise
        finally:
            proc.stdout.close()


def create_overlay(backing: str | Path, backing_format: str, overlay: str | Path) -> None:
    """A qcow2 overlay on ``backing``, so a boot never writes to the backing image."""
    remove_quietly(overlay)
    proc = subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(Path(backing).resolve()),
         "-F", backing_format, str(overlay)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise ProviderError(f"qemu-img create overlay on {backing} failed: {proc.stderr.strip()}")


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate ``proc``, kill it if it has not exited after ``grace`` seconds, reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` disappeared within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return not Path(f"/proc/{pid}").exists()

