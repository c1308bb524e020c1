"""Masking known secret values in log records and stored messages (a last line of defence)."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
SENSITIVE_KEY = re.compile(r"pass|secret|token|key|credential|private|auth|cert", re.IGNORECASE)
MIN_LENGTH = 4

_known: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None
_installed = False


def _leaves(value: Any, sensitive: bool) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _leaves(v, sensitive or bool(SENSITIVE_KEY.search(str(k))))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _leaves(v, sensitive)]
    if sensitive and isinstance(value, str) and len(value) >= MIN_LENGTH:
        return [value]
    return []


def remember(connection_info: dict[str, Any]) -> None:
    """Note the values of sensitive keys (password, token, key...) so that ``mask`` hides them."""
    global _pattern
    new = set(_leaves(connection_info, False)) - _known
    if not new:
        return
    with _lock:
        _known.update(new)
        ordered = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))
    install()


def mask(text: str) -> str:
    """``text`` with every remembered secret value replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def _masking_factory(previous):
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _pattern is None:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own business
            return record
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(formatter.formatException(record.exc_info))
        return record

    return factory


def install() -> None:
    """Mask remembered values in every log record of this process, whatever logger or handler."""
    global _installed
    with _lock:
        if _installed:
            return
        logging.setLogRecordFactory(_masking_factory(logging.getLogRecordFactory()))
        _installed = True


def forget_all() -> None:
    """Forget every remembered value (tests)."""
    global _pattern
    with _lock:
        _known.clear()
        _pattern = None
