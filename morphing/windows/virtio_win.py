"""The operator's virtio-win drivers: an unpacked tree or the ISO, searched by Windows version and arch.

Both layouts name a driver build by path elements: ``viostor/2k19/amd64/viostor.sys`` on the ISO,
``drivers/by-os/amd64/2k19/viostor.sys`` in an unpacked package. A file belongs to a guest when
its path holds the guest's version folder and architecture folder. Debug symbols (``.pdb``) and
the SR-IOV protocol driver (which conflicts with netkvm) are left out. The operator's file is
trusted input (it is a setting, never a tenant's); the ISO is read with pycdlib, no mount.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from morphing.errors import MorphError

QEMU_GA = {"amd64": ("qemu-ga-x86_64.msi", "qemu-ga-x64.msi"), "x86": ("qemu-ga-i386.msi", "qemu-ga-x86.msi")}


@dataclass(frozen=True)
class DriverFile:
    """One file of the driver set: where it is in virtio-win, and its name in the guest (lower case)."""

    source: str
    name: str


class VirtioWin:
    """A virtio-win tree or ISO, opened for reading."""

    def __init__(self, path: Path) -> None:
        """Open the operator's virtio-win.

        Raises:
            MorphError: the path is not set, missing, or neither a directory nor an ISO 9660 image.
        """
        self.path = path
        self._iso = None
        if not path.exists():
            raise MorphError(f"virtio-win not found at {path} (setting virtio_win): Windows guests need it")
        if path.is_file():
            import pycdlib

            iso = pycdlib.PyCdlib()
            try:
                iso.open(str(path))
            except Exception as exc:  # noqa: BLE001 - pycdlib raises its own error types
                raise MorphError(f"virtio-win at {path} is not a readable ISO image: {exc}") from exc
            self._iso = iso
        elif not path.is_dir():
            raise MorphError(f"virtio-win at {path} is neither a directory nor an ISO image")

    def close(self) -> None:
        if self._iso is not None:
            self._iso.close()
            self._iso = None

    def __enter__(self) -> VirtioWin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _files(self) -> Iterator[str]:
        """Every file's path relative to the root, '/'-separated."""
        if self._iso is None:
            for folder, _dirs, files in os.walk(self.path):
                rel = Path(folder).relative_to(self.path)
                for name in files:
                    yield str(PurePosixPath(*rel.parts, name))
            return
        facade = self._iso.get_joliet_facade() if self._iso.has_joliet() else self._iso.get_rock_ridge_facade()
        for folder, _dirs, files in facade.walk("/"):
            for name in files:
                yield f"{folder.rstrip('/')}/{name}".lstrip("/")

    def read(self, source: str) -> bytes:
        """The bytes of one file found by ``drivers_for`` or ``qemu_ga``."""
        if self._iso is None:
            return (self.path / source).read_bytes()
        import io

        out = io.BytesIO()
        if self._iso.has_joliet():
            self._iso.get_file_from_iso_fp(out, joliet_path="/" + source)
        else:
            self._iso.get_file_from_iso_fp(out, rr_path="/" + source)
        return out.getvalue()

    def drivers_for(self, version_tag: str, arch: str) -> list[DriverFile]:
        """The driver files for a Windows version folder (``2k19``, ``w11``...) and arch (``amd64``)."""
        found: dict[str, DriverFile] = {}
        for rel in sorted(self._files()):
            parts = [p.lower() for p in PurePosixPath(rel).parts]
            name = parts[-1]
            if version_tag not in parts[:-1] or arch not in parts[:-1]:
                continue
            if name.endswith(".pdb") or "sriov" in parts or name.startswith("vioprot."):
                continue
            found.setdefault(name, DriverFile(rel, name))
        return sorted(found.values(), key=lambda f: f.name)

    def qemu_ga(self, arch: str) -> DriverFile | None:
        """The QEMU guest agent installer for ``arch``, if the tree has one."""
        wanted = QEMU_GA.get(arch, ())
        for rel in sorted(self._files()):
            name = PurePosixPath(rel).name.lower()
            if name in wanted:
                return DriverFile(rel, name)
        return None
