"""The NTFS dirty flag read and written from $Volume's record, checked against ntfs-3g's own tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from morphing.windows import ntfs


def volume(tmp_path: Path) -> Path:
    image = tmp_path / "ntfs.img"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkntfs", "-q", "-F", "-Q", str(image)], check=True, capture_output=True)
    return image


def io(image: Path):
    f = open(image, "r+b")  # noqa: SIM115 - closed by the caller

    def read(size: int, offset: int) -> bytes:
        f.seek(offset)
        return f.read(size)

    def write(data: bytes, offset: int) -> None:
        f.seek(offset)
        f.write(data)
        f.flush()

    return f, read, write


def ntfsinfo_flags(image: Path) -> str:
    out = subprocess.run(["ntfsinfo", "-m", "-f", str(image)], capture_output=True, text=True, check=True).stdout
    return next(line.strip() for line in out.splitlines() if "Volume Flags" in line)


def test_a_new_volume_is_clean_and_the_flag_round_trips(tmp_path: Path) -> None:
    image = volume(tmp_path)
    f, read, write = io(image)
    with f:
        assert ntfs.is_dirty(read) is False
        ntfs.set_dirty(read, write)
        assert ntfs.is_dirty(read) is True
    # ntfs-3g agrees, and finds $MFT and its mirror consistent
    assert "DIRTY" in ntfsinfo_flags(image)
    check = subprocess.run(["ntfsfix", "-n", str(image)], capture_output=True, text=True)
    assert "processed successfully" in check.stdout, check.stdout + check.stderr
    f, read, write = io(image)
    with f:
        ntfs.set_dirty(read, write, dirty=False)
        assert ntfs.is_dirty(read) is False
    assert ntfsinfo_flags(image) == "Volume Flags: 0x0000"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((3, b"-FVE-FS-"), "not an NTFS boot sector"),  # BitLocker's OEM id
        ((0x40, b"\x00"), "impossible MFT record size"),
    ],
)
def test_what_is_not_ntfs_is_refused(tmp_path: Path, patch: tuple[int, bytes], message: str) -> None:
    image = volume(tmp_path)
    f, read, write = io(image)
    with f:
        write(patch[1], patch[0])
        with pytest.raises(ntfs.NtfsError, match=message):
            ntfs.is_dirty(read)


def test_a_torn_record_is_refused(tmp_path: Path) -> None:
    image = volume(tmp_path)
    f, read, write = io(image)
    with f:
        where, _size = ntfs._geometry(read(512, 0))
        write(b"\xee\xee", where + 510)  # the first sector's update sequence number no longer matches
        with pytest.raises(ntfs.NtfsError, match="torn MFT record"):
            ntfs.is_dirty(read)
