"""The log of changes a morph makes, each also reported as an event."""

from __future__ import annotations

from providers.types import Reporter


class ChangeLog:
    """Collects one human-readable line per change and reports each as ``reporter.info``."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.changes: list[str] = []

    def record(self, message: str) -> None:
        """Note a change made to the guest."""
        self.changes.append(message)
        self.reporter.info(message)

    def warn(self, message: str) -> None:
        """Report something the morph could not do or chose not to do (not a change)."""
        self.reporter.warn(message)
