"""The registry of OS-family fixers; each says with ``matches(os_info)`` whether a guest is its own."""

from __future__ import annotations

from morphing.fixers.base import FixContext, Fixer
from morphing.fixers.debian import DebianFixer
from morphing.fixers.redhat import RedHatFixer
from morphing.fixers.suse import SuseFixer
from providers.types import OsInfo

FIXERS: list[type[Fixer]] = [DebianFixer, RedHatFixer, SuseFixer]

__all__ = ["FIXERS", "FixContext", "Fixer", "find_fixer"]


def find_fixer(os_info: OsInfo) -> type[Fixer] | None:
    """The first registered fixer that matches, or None."""
    return next((fixer for fixer in FIXERS if fixer.matches(os_info)), None)
