"""Tests for conversion.qemu_img: info, convert round trips, progress, errors, sparseness."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conversion import ConversionError, checksum, compare, convert, info, qemu_format, user_format

MIB = 1 << 20

ROUND_TRIPS = [
    pytest.param("qcow2", {}, id="qcow2"),
    pytest.param("qcow2", {"compress": True}, id="qcow2-zstd"),
    pytest.param("vmdk", {"vmdk_subformat": "monolithicSparse"}, id="vmdk-sparse"),
    pytest.param("vmdk", {"vmdk_subformat": "streamOptimized"}, id="vmdk-stream"),
    pytest.param("vhd", {}, id="vhd-dynamic"),
    pytest.param("vhd", {"vhd_fixed": True}, id="vhd-fixed"),
    pytest.param("vhdx", {}, id="vhdx"),
    pytest.param("vdi", {}, id="vdi"),
]


def test_format_names_map_to_qemu_drivers() -> None:
    assert qemu_format("vhd") == "vpc"
    assert qemu_format("VMDK") == "vmdk"
    assert user_format("vpc") == "vhd"
    with pytest.raises(ConversionError, match="unsupported disk format"):
        qemu_format("iso")


@pytest.mark.parametrize(("fmt", "options"), ROUND_TRIPS)
def test_round_trip_is_identical(small_raw: Path, tmp_path: Path, fmt: str, options: dict) -> None:
    mid = tmp_path / f"disk.{fmt}"
    back = tmp_path / "back.raw"

    written = convert(small_raw, "raw", mid, fmt, **options)
    convert(mid, fmt, back, "raw")

    assert written.format == fmt
    assert written.virtual_size == small_raw.stat().st_size
    assert compare(small_raw, "raw", mid, fmt, same_size=True)
    assert compare(small_raw, "raw", back, "raw", same_size=True)
    assert checksum(mid, fmt) == checksum(small_raw, "raw")
    if "vmdk_subformat" in options:
        assert written.subformat == options["vmdk_subformat"]


def test_compare_sees_a_difference(small_raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.qcow2"
    convert(small_raw, "raw", copy, "qcow2")
    changed = tmp_path / "changed.raw"
    convert(copy, "qcow2", changed, "raw")
    with open(changed, "r+b") as f:
        f.seek(40 * MIB)
        f.write(b"x")

    assert compare(small_raw, "raw", copy, "qcow2")
    assert not compare(small_raw, "raw", changed, "raw")


def test_fixed_vhd_keeps_its_size_only_with_explicit_format(small_raw: Path, tmp_path: Path) -> None:
    vhd = tmp_path / "fixed.vhd"
    convert(small_raw, "raw", vhd, "vhd", vhd_fixed=True)
    size = small_raw.stat().st_size

    assert info(vhd, "vhd").virtual_size == size
    # Read as raw (what probing would pick), the 512 B footer shows up as guest data.
    assert info(vhd, "raw").virtual_size == size + 512
    back = tmp_path / "back.raw"
    convert(vhd, "vpc", back, "raw")
    assert back.stat().st_size == size
    assert compare(small_raw, "raw", back, "raw", same_size=True)


def test_progress_rises_to_100(big_raw: Path, tmp_path: Path) -> None:
    seen: list[float] = []

    convert(big_raw, "raw", tmp_path / "out.qcow2", "qcow2", progress=seen.append)

    assert len(seen) >= 3
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[-1] == 100.0
    assert any(0 < p < 100 for p in seen)


class Stop(Exception):
    pass


def test_progress_callback_raising_aborts_and_removes_output(big_raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.vmdk"
    calls: list[float] = []

    def cancel(percent: float) -> None:
        calls.append(percent)
        if percent > 5:
            raise Stop("cancelled")

    with pytest.raises(Stop):
        convert(big_raw, "raw", out, "vmdk", vmdk_subformat="streamOptimized", progress=cancel)

    assert calls[-1] < 100
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_text_file_claimed_as_qcow2_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.qcow2"
    bogus.write_text("this is not a disk image\n")
    out = tmp_path / "out.raw"

    with pytest.raises(ConversionError) as exc:
        info(bogus, "qcow2")
    assert "not in qcow2 format" in str(exc.value)
    assert "bogus.qcow2" in exc.value.message

    with pytest.raises(ConversionError, match="not in qcow2 format"):
        convert(bogus, "qcow2", out, "raw")
    assert not out.exists()


def test_failed_conversion_carries_stderr_and_removes_output(small_raw: Path, tmp_path: Path) -> None:
    src = tmp_path / "src.vmdk"
    convert(small_raw, "raw", src, "vmdk", vmdk_subformat="streamOptimized")
    with open(src, "r+b") as f:  # garble the compressed grains; the header stays valid
        f.seek(128 * 1024)
        f.write(b"\xff" * (2 * MIB))
    out = tmp_path / "out.raw"

    with pytest.raises(ConversionError) as exc:
        convert(src, "vmdk", out, "raw")

    assert "error while reading" in exc.value.stderr
    assert exc.value.returncode == 1
    assert not out.exists()


def test_backing_file_is_refused_by_default(small_raw: Path, tmp_path: Path) -> None:
    import subprocess

    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(small_raw), "-F", "raw", str(overlay)],
        check=True,
    )
    assert info(overlay, "qcow2").backing_file == str(small_raw)
    with pytest.raises(ConversionError, match="backing file"):
        convert(overlay, "qcow2", tmp_path / "out.raw", "raw")
    convert(overlay, "qcow2", tmp_path / "out.raw", "raw", allow_backing=True)
    assert compare(small_raw, "raw", tmp_path / "out.raw", "raw")


def test_sparse_stays_sparse(tmp_path: Path) -> None:
    src = tmp_path / "sparse.raw"
    with open(src, "wb") as f:
        f.truncate(1 << 30)
        f.seek(300 * MIB)
        f.write(os.urandom(4 * MIB))

    qcow2 = tmp_path / "out.qcow2"
    raw = tmp_path / "out.raw"
    convert(src, "raw", qcow2, "qcow2")
    convert(qcow2, "qcow2", raw, "raw")

    assert qcow2.stat().st_size < 8 * MIB
    assert raw.stat().st_size == 1 << 30
    assert raw.stat().st_blocks * 512 < 8 * MIB  # what `du` reports
    assert info(raw, "raw").actual_size < 8 * MIB
    assert compare(src, "raw", raw, "raw", same_size=True)


def test_bad_options_are_refused(small_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="subformat"):
        convert(small_raw, "raw", tmp_path / "x.vmdk", "vmdk", vmdk_subformat="monolithicFlat")
    with pytest.raises(ConversionError, match="only supported for qcow2"):
        convert(small_raw, "raw", tmp_path / "x.vdi", "vdi", compress=True)
    assert list(tmp_path.iterdir()) == []
