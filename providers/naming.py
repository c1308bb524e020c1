"""Deterministic resource names a cloud accepts: a name cleaned to the allowed characters, with a short hash of
the original when cleaning changed it (so two different names never meet in one cleaned name)."""

from __future__ import annotations

import hashlib
import re


def name_hash(name: str) -> str:
    """Eight hex digits of the name's SHA-256."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def cleaned_name(name: str, disallowed: str, strip: str = "-", max_length: int | None = None,
                 min_length: int = 1) -> str:
    """``name`` with each run of characters matching ``disallowed`` (a character-class regex) turned into ``-``,
    ``strip`` trimmed from both ends, cut at ``max_length``; unchanged names of ``min_length`` or more are
    kept as they are, others get ``-<hash>`` (``x-<hash>`` when nothing is left)."""
    cleaned = re.sub(disallowed, "-", name).strip(strip)[:max_length]
    if cleaned == name and len(cleaned) >= min_length:
        return cleaned
    return f"{cleaned or 'x'}-{name_hash(name)}"
