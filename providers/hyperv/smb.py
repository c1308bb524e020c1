"""Disk files read over SMB (smbprotocol): host paths mapped to shares, copied into staging in chunks."""

from __future__ import annotations

import ntpath
import os
import re
from pathlib import Path
from typing import Any

import smbclient
from smbprotocol.exceptions import (
    LogonFailure,
    SMBAuthenticationError,
    SMBException,
    SMBOSError,
    SMBResponseException,
)

from providers.types import ProviderError, Reporter

MIB = 1 << 20
DRIVE = re.compile(r"^([A-Za-z]):\\")


def unc_path(host: str, path: str, shares: dict[str, str] | None = None) -> str:
    """The UNC path a host file is read at.

    A path under a key of ``shares`` (``D:\\VMs``) is read through that share (``\\\\hv01\\vms``);
    a path already on a share (SMB3 storage for Hyper-V) as is; any other ``X:\\...`` through the
    host's administrative share ``\\\\host\\X$\\...``.

    Raises:
        ProviderError: a relative path, or one with ``..`` parts.
    """
    norm = path.replace("/", "\\")
    if any(part == ".." for part in norm.split("\\")):
        raise ProviderError(f"refusing disk path {path!r}: it has '..' parts")
    for prefix, share in sorted((shares or {}).items(), key=lambda kv: -len(kv[0])):
        key = prefix.replace("/", "\\").rstrip("\\")
        if norm.lower() == key.lower() or norm.lower().startswith(key.lower() + "\\"):
            return share.replace("/", "\\").rstrip("\\") + norm[len(key):]
    if norm.startswith("\\\\"):
        return norm
    match = DRIVE.match(norm)
    if not match:
        raise ProviderError(f"cannot read disk path {path!r} over SMB: not a drive or share path")
    return f"\\\\{host}\\{match.group(1).upper()}$\\{norm[3:]}"


def file_format(path: str) -> str | None:
    """``vhdx`` or ``vhd`` from a disk file's name (``avhdx`` is a differencing VHDX)."""
    ext = ntpath.splitext(path)[1].lower()
    return {".vhdx": "vhdx", ".avhdx": "vhdx", ".vhd": "vhd", ".avhd": "vhd"}.get(ext)


class SmbReader:
    """One SMB session (signed) to a host, used as a context manager; its connections close on exit."""

    def __init__(self, server: str, username: str, password: str, port: int = 445, timeout: int = 30) -> None:
        self.server = server
        self.port = port
        self._username = username
        self._password = password
        self._timeout = timeout
        self._cache: dict[str, Any] = {}

    def __enter__(self) -> SmbReader:
        try:
            smbclient.register_session(
                self.server, username=self._username, password=self._password, port=self.port,
                connection_timeout=self._timeout, connection_cache=self._cache, require_signing=True,
            )
        except (SMBAuthenticationError, LogonFailure):
            raise ProviderError(f"SMB on {self.server}:{self.port} rejected the credentials") from None
        except (SMBException, SMBResponseException) as exc:
            raise ProviderError(f"SMB session with {self.server}:{self.port} failed: {_short(exc)}") from None
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot reach SMB on {self.server}:{self.port} ({_short(exc)})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        smbclient.reset_connection_cache(connection_cache=self._cache)

    def size(self, unc: str) -> int:
        """Bytes in the file at ``unc``."""
        try:
            return int(smbclient.stat(unc, port=self.port, connection_cache=self._cache).st_size)
        except (SMBOSError, SMBResponseException, SMBException, OSError) as exc:
            raise ProviderError(f"cannot read {unc} over SMB: {_short(exc)}") from None

    def check_share(self, unc_dir: str) -> None:
        """List ``unc_dir`` (proves the share is reachable with these credentials)."""
        try:
            smbclient.listdir(unc_dir, port=self.port, connection_cache=self._cache)
        except (SMBOSError, SMBResponseException, SMBException, OSError) as exc:
            raise ProviderError(f"cannot list {unc_dir} over SMB: {_short(exc)}") from None

    def copy(self, unc: str, dest: Path, reporter: Reporter, label: str, chunk_size: int = 4 * MIB) -> int:
        """Copy ``unc`` into ``dest`` (created or truncated), reporting after each chunk; bytes copied.

        Zero chunks are skipped (left as holes), so a dynamic VHDX stays sparse in staging.
        ``reporter.step`` raising (``Cancelled``) stops the copy; the caller removes ``dest``.
        """
        total = self.size(unc)
        done = 0
        zero = bytes(chunk_size)
        try:
            with smbclient.open_file(unc, mode="rb", port=self.port, connection_cache=self._cache,
                                     share_access="rw") as src, open(dest, "wb") as out:
                reporter.step(0, total, f"{label}: reading {unc}")
                while True:
                    data = src.read(chunk_size)
                    if not data:
                        break
                    if data == zero[:len(data)]:
                        out.seek(len(data), os.SEEK_CUR)
                    else:
                        out.write(data)
                    done += len(data)
                    reporter.step(done, total, f"{label}: {done // MIB} of {total // MIB} MiB")
                out.truncate(done)
        except (SMBOSError, SMBResponseException, SMBException) as exc:
            raise ProviderError(f"{label}: reading {unc} over SMB failed: {_short(exc)}") from None
        if done != total:
            raise ProviderError(f"{label}: {unc} changed size while read ({done} of {total} bytes)")
        return done


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
