"""Per-app state the views reach: settings, database sessions, the progress store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy.orm import Session

from coriolis.config import Settings
from coriolis.database.session import session_scope
from coriolis.progress import ProgressStore, get_redis


def settings() -> Settings:
    return current_app.config["CORIOLIS_SETTINGS"]


@contextmanager
def db_session() -> Iterator[Session]:
    with session_scope(settings().database_url) as session:
        yield session


def progress_store() -> ProgressStore:
    return ProgressStore(get_redis(settings().redis_url))
