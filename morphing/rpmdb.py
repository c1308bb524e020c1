"""A guest's rpm database read offline: sqlite (RHEL 9, Fedora 33+) and BerkeleyDB hash (RHEL 7/8, SLES 12).

Both are read as bytes through the guest tree and parsed here, so listing packages runs no guest
program and needs no rpm on the worker. The BerkeleyDB ``Packages`` file is a hash database whose
values are rpm header blobs, small ones on the hash pages and big ones on chained overflow pages;
walking the pages is enough to list them (no key lookup, no locking, no environment), and unlike
``rpm --dbpath`` it does not depend on the guest's rpm being runnable. Other formats (SUSE's ndb
``Packages.db``) fall back to the guest's own ``rpm -qa`` through the runner.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from morphing.runner import Runner
from morphing.tree import GuestTree

DB_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1022: "arch"}
_STRING_TYPES = (6, 8, 9)
_INT32 = 4
_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASH = 2, 7, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26


@dataclass(frozen=True)
class Package:
    """An installed package, as its rpm header names it."""

    name: str
    version: str = ""
    release: str = ""
    arch: str = ""
    epoch: int | None = None

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


class RpmDbError(Exception):
    """The database is not in a format this module reads."""


def parse_header(blob: bytes) -> Package | None:
    """Name, version, release, arch and epoch from an rpm header blob (None when it is not one)."""
    try:
        return _parse_header(blob)
    except struct.error:
        return None


def _parse_header(blob: bytes) -> Package | None:
    if len(blob) < 8:
        return None
    count, size = struct.unpack_from(">II", blob, 0)
    start = 8 + 16 * count
    if count == 0 or count > 100_000 or start + size > len(blob):
        return None
    data = blob[start : start + size]
    values: dict[str, str | int] = {}
    for index in range(count):
        tag, kind, offset, items = struct.unpack_from(">iiii", blob, 8 + 16 * index)
        field = _TAGS.get(tag)
        if field is None or not 0 <= offset < len(data):
            continue
        if kind in _STRING_TYPES:
            end = data.find(b"\0", offset)
            values[field] = data[offset : end if end >= 0 else None].decode("utf-8", errors="replace")
        elif kind == _INT32 and items >= 1 and offset + 4 <= len(data):
            values[field] = struct.unpack_from(">i", data, offset)[0]
    name = values.get("name")
    if not isinstance(name, str) or not name:
        return None
    epoch = values.get("epoch")
    return Package(
        name,
        str(values.get("version", "")),
        str(values.get("release", "")),
        str(values.get("arch", "")),
        epoch if isinstance(epoch, int) else None,
    )


def bdb_values(db: bytes) -> list[bytes]:
    """Every value stored in a BerkeleyDB hash database file (keys skipped), in page order.

    Raises:
        RpmDbError: the file is not a BerkeleyDB hash database.
    """
    if len(db) < 512:
        raise RpmDbError("too short for a BerkeleyDB file")
    for endian in "<>":
        if struct.unpack_from(endian + "I", db, 12)[0] == _HASH_MAGIC:
            break
    else:
        raise RpmDbError("not a BerkeleyDB hash database")
    page_size = struct.unpack_from(endian + "I", db, 20)[0]
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise RpmDbError(f"unlikely page size {page_size}")
    pages = len(db) // page_size

    def page(number: int) -> bytes:
        return db[number * page_size : (number + 1) * page_size]

    def overflow(first: int, length: int) -> bytes:
        out = bytearray()
        number, seen = first, set()
        while number and len(out) < length and number < pages and number not in seen:
            seen.add(number)
            current = page(number)
            if current[25] != _P_OVERFLOW:
                break
            used = struct.unpack_from(endian + "H", current, 22)[0]
            out += current[_PAGE_HEADER : _PAGE_HEADER + used]
            number = struct.unpack_from(endian + "I", current, 16)[0]
        return bytes(out[:length])

    values: list[bytes] = []
    for number in range(1, pages):
        current = page(number)
        if current[25] not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        entries = min(struct.unpack_from(endian + "H", current, 20)[0], (page_size - _PAGE_HEADER) // 2)
        offsets = [struct.unpack_from(endian + "H", current, _PAGE_HEADER + 2 * i)[0] for i in range(entries)]
        for index in range(1, entries, 2):
            offset = offsets[index]
            end = offsets[index - 1]
            if not _PAGE_HEADER <= offset < end <= page_size:
                continue
            kind = current[offset]
            if kind == _H_KEYDATA:
                values.append(current[offset + 1 : end])
            elif kind == _H_OFFPAGE and offset + 12 <= end:
                first, length = struct.unpack_from(endian + "II", current, offset + 4)
                values.append(overflow(first, length))
    return values


def sqlite_blobs(db: bytes, wal: bytes | None) -> list[bytes]:
    """The header blobs of an rpmdb.sqlite (with its write-ahead log, when it has one)."""
    with tempfile.TemporaryDirectory(prefix="coriolis-rpmdb-") as work:
        path = Path(work) / "rpmdb.sqlite"
        path.write_bytes(db)
        if wal:
            (Path(work) / "rpmdb.sqlite-wal").write_bytes(wal)
        try:
            connection = sqlite3.connect(path)
            try:
                # the file is the guest's: no schema-defined functions or triggers are trusted
                connection.execute("PRAGMA trusted_schema=OFF")
                if hasattr(sqlite3, "SQLITE_DBCONFIG_DEFENSIVE"):
                    connection.setconfig(sqlite3.SQLITE_DBCONFIG_DEFENSIVE, True)
                return [bytes(row[0]) for row in connection.execute("SELECT blob FROM Packages")]
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise RpmDbError(f"unreadable rpmdb.sqlite: {exc}") from exc


def read_packages(tree: GuestTree) -> list[Package] | None:
    """The packages of the guest's rpm database, or None when there is none this module reads.

    Raises:
        RpmDbError: a database file is there but damaged.
    """
    for directory in DB_DIRS:
        db = tree.read_bytes(f"{directory}/rpmdb.sqlite")
        if db is not None:
            blobs = sqlite_blobs(db, tree.read_bytes(f"{directory}/rpmdb.sqlite-wal"))
        else:
            db = tree.read_bytes(f"{directory}/Packages")
            if db is None:
                continue
            try:
                blobs = bdb_values(db)
            except struct.error as exc:
                raise RpmDbError(f"damaged BerkeleyDB Packages: {exc}") from exc
        packages = [p for p in map(parse_header, blobs) if p is not None]
        return sorted(packages, key=lambda p: (p.name, p.version, p.release))
    return None


def installed_names(tree: GuestTree, runner: Runner) -> set[str]:
    """Names of the installed packages: parsed offline, else asked of the guest's rpm (in the appliance)."""
    try:
        packages = read_packages(tree)
    except RpmDbError:
        packages = None
    if packages is not None:
        return {p.name for p in packages}
    if not (tree.exists("/usr/bin/rpm") or tree.exists("/bin/rpm")):
        return set()
    output = runner.run(["rpm", "-qa", "--qf", "%{NAME}\\n"])
    return {line.strip() for line in output.splitlines() if line.strip()}
