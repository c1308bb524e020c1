"""Tests for conversion.nbdstream: one pass, holes never read, the digest of checksum(), cleanup on failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conversion import ConversionError, checksum, compare, convert, nbdstream
from tests.conversion.conftest import write_sparse_raw

MIB = 1 << 20


@pytest.mark.parametrize(("src_fmt", "dst_fmt"), [("raw", "qcow2"), ("vmdk", "qcow2"), ("qcow2", "vmdk"),
                                                  ("vdi", "raw")])
def test_copy_reads_the_data_once_and_gives_the_checksum(big_raw: Path, tmp_path: Path, src_fmt, dst_fmt) -> None:
    source = big_raw
    if src_fmt != "raw":
        source = tmp_path / f"src.{src_fmt}"
        convert(big_raw, "raw", source, src_fmt)
    out = tmp_path / f"out.{dst_fmt}"

    seen: list[tuple[int, int]] = []
    stats = nbdstream.copy(source, src_fmt, out, dst_fmt, progress=lambda done, total: seen.append((done, total)))

    assert stats.digest == checksum(big_raw, "raw") == nbdstream.digest(out, dst_fmt).digest
    assert compare(out, dst_fmt, big_raw, "raw", same_size=True)
    # 24 MiB of data in 256 MiB: only the data (to whole 64 KiB chunks) is read and written
    assert 24 * MIB <= stats.bytes_read <= 24 * MIB * 1.1
    assert stats.bytes_written <= stats.bytes_read
    assert seen[-1] == (256 * MIB, 256 * MIB) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_all_zero_data_is_neither_hashed_differently_nor_written(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.raw"
    zeros.write_bytes(bytes(8 * MIB))  # allocated, but zeros
    out = tmp_path / "out.qcow2"

    stats = nbdstream.copy(zeros, "raw", out, "qcow2")

    assert stats.digest == checksum(zeros, "raw")
    assert stats.bytes_written == 0


def test_a_failed_copy_leaves_no_destination(small_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.qcow2"

    def cancel(done: int, total: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        nbdstream.copy(small_raw, "raw", out, "qcow2", progress=cancel)
    assert not out.exists()
    assert not any(p.name.startswith("coriolis-nbd-") for p in tmp_path.iterdir())


def test_an_image_reading_another_file_is_refused(tmp_path: Path) -> None:
    base = write_sparse_raw(tmp_path / "base.raw", 4 * MIB, {0: MIB})
    top = tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(top)], check=True)
    with pytest.raises(ConversionError, match="backing file"):
        nbdstream.digest(top, "qcow2")
    with pytest.raises(ConversionError, match="backing file"):
        nbdstream.copy(top, "qcow2", tmp_path / "out.qcow2", "qcow2")
    assert not (tmp_path / "out.qcow2").exists()


def test_a_trusted_digest_reads_the_size_from_the_export(small_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.qcow2"
    nbdstream.copy(small_raw, "raw", out, "qcow2")
    assert nbdstream.digest(out, "qcow2", trusted=True).digest == checksum(small_raw, "raw")


def test_a_copy_of_a_disk_without_data_stops_its_writer_cleanly(tmp_path: Path, caplog) -> None:
    """No client ever connects to the writer: it is told to stop while it may still be starting."""
    empty = write_sparse_raw(tmp_path / "empty.raw", 2 * MIB, {})
    for n in range(5):
        out = tmp_path / f"out{n}.qcow2"
        stats = nbdstream.copy(empty, "raw", out, "qcow2")
        assert (stats.bytes_read, stats.bytes_written) == (0, 0)
        assert stats.digest == checksum(empty, "raw") == nbdstream.digest(out, "qcow2").digest
    assert not [r for r in caplog.records if "exited with" in r.getMessage()]


def test_the_source_servers_file_reads_are_counted(big_raw: Path, tmp_path: Path) -> None:
    stats = nbdstream.copy(big_raw, "raw", tmp_path / "out.qcow2", "qcow2")
    # qemu-nbd reads the data ranges of the file once (plus its own start-up files), never the holes
    assert stats.file_bytes_read is not None
    assert 24 * MIB <= stats.file_bytes_read <= 24 * MIB * 1.1
