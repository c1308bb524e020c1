"""The one exception the conversion package raises."""

from __future__ import annotations


class ConversionError(Exception):
    """qemu-img failed or refused an image; ``stderr`` holds the last lines it printed.

    Args:
        message: what we were doing.
        stderr: the tail of qemu-img's standard error (may be empty).
        returncode: qemu-img's exit status, when it ran.
    """

    def __init__(self, message: str, stderr: str = "", returncode: int | None = None) -> None:
        self.message = message
        self.stderr = stderr
        self.returncode = returncode
        text = message if not stderr else f"{message}: {stderr}"
        super().__init__(text)
