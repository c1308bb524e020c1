"""Logging for every Coriolis process: text or one JSON object per line, with the migration and task in context.

``configure(log_format, level)`` installs one handler on the root logger (the API, the workers,
beat and the ``coriolis`` command all call it). ``bind()`` puts ``migration_id``, ``task_id``
and ``task_type`` in a context variable; every record logged in that context carries them.
The API binds them per request, workers per task (``hook_celery`` and ``runtime.run_stage``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
CONTEXT_FIELDS = ("migration_id", "task_id", "task_type")
# gunicorn's own loggers do not propagate; in JSON mode they are routed through the root handler.
_GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")

_context: ContextVar[dict[str, str] | None] = ContextVar("coriolis_log_context", default=None)


def current() -> dict[str, str]:
    """The fields bound in this context."""
    return dict(_context.get() or {})


def bind(**fields: Any) -> Token:
    """Add ``fields`` (the non-empty ones) to this context's log fields; returns a token for ``unbind``."""
    merged = {**(_context.get() or {}), **{k: str(v) for k, v in fields.items() if v}}
    return _context.set(merged)


def unbind(token: Token) -> None:
    """Restore the fields as they were before the ``bind`` that returned ``token``."""
    _context.reset(token)


def clear() -> None:
    """Forget every bound field (between tasks, between requests)."""
    _context.set(None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` for the duration of a ``with`` block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (explicit ``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, str]:
    return {k: str(v) for k in CONTEXT_FIELDS if (v := getattr(record, k, None))}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A line for humans: time, level, logger, ``[key=value ...]`` context, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        record.context = " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" if fields else ""
        return super().format(record)


def configure(log_format: str = "text", level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send every record of this process to ``stream`` (stderr) in ``log_format``; safe to call again.

    Args:
        log_format: ``text`` or ``json``.
        level: the root logger's level.
        stream: where lines go; stderr by default.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "coriolis", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.coriolis = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    if log_format == "json":
        for name in _GUNICORN_LOGGERS:
            gunicorn_logger = logging.getLogger(name)
            gunicorn_logger.handlers = []
            gunicorn_logger.propagate = True
    return handler


def configure_from_settings() -> logging.Handler:
    """``configure`` with the process's ``log_format`` and ``log_level`` settings."""
    from coriolis.config import get_settings

    settings = get_settings()
    return configure(settings.log_format, settings.log_level)


def _on_setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    from coriolis.config import get_settings

    settings = get_settings()
    configure(settings.log_format, loglevel or settings.log_level)


def _on_task_prerun(task_id: str | None = None, task: Any = None, args: Any = None, **_: Any) -> None:
    clear()
    name = getattr(task, "name", "") or ""
    if name.startswith("coriolis.stage."):
        bind(task_id=task_id)  # a stage's Celery id is its task row's id
    elif name.startswith("coriolis.control.") and args:
        bind(migration_id=args[0])


def _on_task_postrun(**_: Any) -> None:
    clear()


def hook_celery() -> None:
    """Make Celery processes log through ``configure`` and bind each task's ids while it runs.

    A receiver of ``setup_logging`` replaces Celery's own logging setup (worker and beat).
    """
    from celery import signals

    signals.setup_logging.connect(_on_setup_logging, weak=False)
    signals.task_prerun.connect(_on_task_prerun, weak=False)
    signals.task_postrun.connect(_on_task_postrun, weak=False)
