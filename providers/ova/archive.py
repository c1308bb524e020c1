"""Read-only access to an OVA tar: member checks, the OVF, the manifest, member streams."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from providers.types import ProviderError

MAX_MEMBERS = 1000
MAX_OVF_BYTES = 16 << 20
MAX_MANIFEST_BYTES = 1 << 20
# Signature and certificate files sit beside the OVF and are referenced by nothing.
SIDE_FILES = (".mf", ".cert")

_MANIFEST_LINE = re.compile(r"^\s*(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$")


@dataclass(frozen=True)
class ManifestEntry:
    """A digest the manifest promises for one member (``algorithm`` is hashlib's name)."""

    algorithm: str
    digest: str


class OvaArchive:
    """An OVA file opened for reading; the constructor rejects unsafe or odd members.

    Only plain regular files with flat, relative names are accepted: no directories,
    links, devices, absolute names or ``..``. Members are read in place (tarfile seeks
    to each member's data), never unpacked.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._tar = tarfile.open(self.path, mode="r:")
        except (OSError, tarfile.TarError) as exc:
            raise ProviderError(f"{self.path.name}: not a readable OVA (tar) archive: {exc}") from exc
        try:
            self.members = self._check_members()
        except BaseException:
            self._tar.close()
            raise

    def __enter__(self) -> OvaArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying tar file."""
        self._tar.close()

    def _iter_members(self) -> Iterator[tarfile.TarInfo]:
        for count, member in enumerate(self._tar, start=1):
            if count > MAX_MEMBERS:
                raise ProviderError(f"{self.path.name}: more than {MAX_MEMBERS} members in the archive")
            yield member

    def _check_members(self) -> dict[str, tarfile.TarInfo]:
        found: dict[str, tarfile.TarInfo] = {}
        try:
            members = list(self._iter_members())
        except tarfile.TarError as exc:
            raise ProviderError(f"{self.path.name}: the archive is truncated or corrupt ({exc})") from exc
        for member in members:
            name = member.name
            if name.startswith("./"):
                name = name[2:]
            if member.issym() or member.islnk():
                raise ProviderError(f"{self.path.name}: member {member.name!r} is a link; links are refused")
            if not member.isreg():
                raise ProviderError(
                    f"{self.path.name}: member {member.name!r} is not a regular file; an OVA holds only files"
                )
            if not name or name.startswith("/") or "\\" in name or "/" in name or name in (".", ".."):
                raise ProviderError(
                    f"{self.path.name}: member name {member.name!r} is not a plain file name "
                    "(absolute paths, directories and '..' are refused)"
                )
            if name in found:
                raise ProviderError(f"{self.path.name}: member {name!r} appears twice")
            found[name] = member
        if not found:
            raise ProviderError(f"{self.path.name}: the archive is empty")
        return found

    @property
    def ovf_name(self) -> str:
        """The one ``.ovf`` member."""
        names = [n for n in self.members if n.lower().endswith(".ovf")]
        if len(names) != 1:
            raise ProviderError(f"{self.path.name}: expected exactly one .ovf descriptor, found {len(names)}")
        return names[0]

    def read_small(self, name: str, limit: int) -> bytes:
        """A whole member that must be at most ``limit`` bytes (the OVF, the manifest)."""
        member = self.members[name]
        if member.size > limit:
            raise ProviderError(f"{self.path.name}: {name} is {member.size} bytes, more than {limit} allowed")
        with self.open(name) as stream:
            return stream.read(limit + 1)

    def read_ovf(self) -> bytes:
        """The OVF descriptor's bytes (size-limited)."""
        return self.read_small(self.ovf_name, MAX_OVF_BYTES)

    def manifest(self) -> dict[str, ManifestEntry] | None:
        """Digests from the ``.mf`` member, by file name; None when there is no manifest."""
        names = [n for n in self.members if n.lower().endswith(".mf")]
        if not names:
            return None
        if len(names) > 1:
            raise ProviderError(f"{self.path.name}: more than one manifest (.mf)")
        text = self.read_small(names[0], MAX_MANIFEST_BYTES).decode("utf-8", "replace")
        entries: dict[str, ManifestEntry] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            match = _MANIFEST_LINE.match(line)
            if not match:
                raise ProviderError(f"{self.path.name}: unreadable manifest line {line[:80]!r}")
            algorithm, name, digest = match.groups()
            entries[name.strip()] = ManifestEntry(algorithm.lower(), digest.lower())
        return entries

    def size(self, name: str) -> int:
        """A member's size as the tar header states it."""
        return self.members[name].size

    def span(self, name: str) -> tuple[int, int]:
        """Where a member's bytes lie in the archive file: ``(offset, length)``; a truncated archive raises."""
        member = self.members[name]
        if member.issparse():  # its bytes are scattered over the archive, not one range
            raise ProviderError(f"{self.path.name}: {name} is stored as a sparse tar member; refused")
        end = member.offset_data + member.size
        held = self.path.stat().st_size
        if end > held:
            raise ProviderError(f"{self.path.name}: the archive ends {end - held} bytes before the end of {name}")
        return member.offset_data, member.size

    def read_chunk(self, stream: IO[bytes], size: int, name: str) -> bytes:
        """Up to ``size`` bytes of a member stream; a truncated archive raises ProviderError."""
        try:
            return stream.read(size)
        except (OSError, tarfile.TarError) as exc:
            raise ProviderError(f"{self.path.name}: cannot read {name}: {exc}") from exc

    def open(self, name: str) -> IO[bytes]:
        """A stream over one member's bytes, read in place from the archive."""
        if name not in self.members:
            raise ProviderError(f"{self.path.name}: no member named {name!r}")
        stream = self._tar.extractfile(self.members[name])
        if stream is None:  # only for non-regular members, refused above
            raise ProviderError(f"{self.path.name}: cannot read member {name!r}")
        return stream
