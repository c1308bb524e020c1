"""Guest paths as Windows sees them: each existing component matched case-insensitively."""

from __future__ import annotations

from pathlib import PurePosixPath

from morphing.tree import GuestTree


def resolve(tree: GuestTree, path: str) -> str:
    """The guest path of ``path`` with every existing component spelled as on disk.

    Components that do not exist yet keep the spelling given (a file about to be written).
    """
    current = "/"
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", "")]
    for index, part in enumerate(parts):
        match = None
        if tree.is_dir(current):
            lower = part.lower()
            match = next((name for name in tree.listdir(current) if name.lower() == lower), None)
        if match is None:
            return str(PurePosixPath(current, *parts[index:]))
        current = str(PurePosixPath(current) / match)
    return current
