"""Which host directories endpoints may name: operator-allowed roots per local provider kind.

A local provider (``ova``, ``kvm``, ``stub``) names host directories in its connection info; its
``ProviderSpec.local_path_fields`` says which fields. The operator allows roots per kind with the
setting ``local_paths`` (``kind=/root[:/other],...``; ``*`` stands for every kind; ``{project_id}``
in a root is the project of the endpoint or run, so each project can get a folder of its own).
A kind the setting does not name may use only ``<state_dir>/library/<kind>``.

A path is checked after resolving ``..`` and every symlink (``/proc/self/root`` included): it must
be absolute, in normal Unicode form (no look-alike characters), free of control characters and of
sane length, and lie at or below one allowed root. The API checks what a tenant sends (400 naming
the field); the worker checks again just before it builds the provider and hands the provider the
resolved paths, so a path that was changed underneath since (a symlink swapped in) is refused.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

LOCAL_KINDS = ("ova", "kvm", "stub")
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
PROJECT_PLACEHOLDER = "{project_id}"
_PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")


class PathNotAllowed(ValueError):
    """The path is malformed or resolves outside every root the operator allows for its kind."""


def default_roots(state_dir: str) -> dict[str, tuple[str, ...]]:
    """The roots when ``local_paths`` says nothing of a kind: the state dir's own library folders."""
    return {kind: (str(Path(state_dir) / "library" / kind),) for kind in LOCAL_KINDS}


def parse_roots(text: str, state_dir: str) -> dict[str, tuple[str, ...]]:
    """The roots per kind from ``local_paths`` (``kind=/a:/b,*=/c``) over the defaults.

    Raises:
        ValueError: an entry is not ``kind=/absolute[:/absolute...]``.
    """
    roots = default_roots(state_dir)
    named: dict[str, list[str]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        kind, sep, paths = entry.partition("=")
        kind = kind.strip()
        if not sep or not kind or not paths.strip():
            raise ValueError(f"local_paths: {entry!r} is not kind=/path[:/path...]")
        items = [p.strip() for p in paths.split(":") if p.strip()]
        if not all(p.startswith("/") for p in items):
            raise ValueError(f"local_paths: the roots of {kind!r} must be absolute paths")
        for target in (LOCAL_KINDS if kind == "*" else (kind,)):
            named.setdefault(target, []).extend(items)
    roots.update({kind: tuple(dict.fromkeys(items)) for kind, items in named.items()})
    return roots


def roots_for(settings: Any, kind: str, project_id: str | None) -> tuple[Path, ...]:
    """The resolved roots ``kind`` may use for ``project_id`` under ``settings``.

    A root holding ``{project_id}`` counts only when the project is known and is a plain name.
    """
    out: list[Path] = []
    for root in parse_roots(settings.local_paths, settings.state_dir).get(kind, ()):
        if PROJECT_PLACEHOLDER in root:
            if project_id is None or not _PROJECT_RE.match(project_id) or project_id in (".", ".."):
                continue
            root = root.replace(PROJECT_PLACEHOLDER, project_id)
        out.append(Path(os.path.realpath(root)))
    return tuple(out)


def _shape(value: Any) -> str:
    """``value`` checked for shape before it is resolved."""
    if not isinstance(value, str) or not value:
        raise PathNotAllowed("must be a non-empty absolute path")
    if "\x00" in value or _CONTROL.search(value):
        raise PathNotAllowed("must not contain NUL or control characters")
    if _SURROGATES.search(value):
        raise PathNotAllowed("must be valid Unicode")
    if len(value.encode("utf-8")) > MAX_PATH_BYTES:
        raise PathNotAllowed(f"is longer than {MAX_PATH_BYTES} bytes")
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in value.split("/")):
        raise PathNotAllowed(f"has a component longer than {MAX_NAME_BYTES} bytes")
    if unicodedata.normalize("NFKC", value) != value:
        raise PathNotAllowed("must be in normal Unicode form (no look-alike characters)")
    if not value.startswith("/"):
        raise PathNotAllowed("must be an absolute path")
    return value


def confine(value: Any, roots: Iterable[Path], kind: str = "this provider") -> Path:
    """The real path of ``value`` (``..`` and symlinks resolved), which must lie below one of ``roots``.

    Raises:
        PathNotAllowed: it is malformed, a symlink loop, or outside every root.
    """
    text = _shape(value)
    try:
        real = Path(os.path.realpath(text, strict=False))
    except (OSError, ValueError) as exc:
        raise PathNotAllowed(f"cannot be resolved ({type(exc).__name__})") from None
    if _is_loop(text):
        raise PathNotAllowed("is a symlink loop")
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise PathNotAllowed(f"is outside the directories the operator allows for {kind} (setting local_paths)")
    return real


def _is_loop(text: str) -> bool:
    try:
        os.path.realpath(text, strict=True)
    except FileNotFoundError:
        return False
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def check_connection(
    kind: str, fields: Iterable[str], info: Mapping[str, Any], roots: Iterable[Path]
) -> dict[str, Any]:
    """``info`` with every path field confined to ``roots`` and replaced by its real path.

    Raises:
        PathNotAllowed: naming the offending field (``image_dirs[1]: is outside ...``).
    """
    roots = tuple(roots)
    out = dict(info)
    for name in fields:
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            resolved: list[str] = []
            for n, item in enumerate(value):
                resolved.append(str(_confined(f"{name}[{n}]", item, roots, kind)))
            out[name] = resolved
        else:
            out[name] = str(_confined(name, value, roots, kind))
    return out


def _confined(name: str, value: Any, roots: tuple[Path, ...], kind: str) -> Path:
    try:
        return confine(value, roots, kind)
    except PathNotAllowed as exc:
        raise PathNotAllowed(f"{name}: {exc}") from None


SERVICE_FILE_MODE = 0o600


def copy_mode(source_mode: int) -> int:
    """The mode of a file the service writes from a source of ``source_mode``: its own, never wider."""
    return SERVICE_FILE_MODE & source_mode & 0o777


def create_private(dest: str | Path, source_mode: int = SERVICE_FILE_MODE) -> BinaryIO:
    """``dest`` opened for writing (truncated), mode ``copy_mode(source_mode)`` even when it existed;
    a symlink at ``dest`` is refused (``OSError`` ELOOP), never followed.
    """
    mode = copy_mode(source_mode)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def copy_private(src: str | Path, dest: str | Path) -> None:
    """Copy the regular file ``src`` (not followed when a symlink) to ``dest`` with ``copy_mode``."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fin:
        info = os.fstat(fin.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{src} is not a regular file")
        with create_private(dest, info.st_mode) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
