"""Engines and sessions; the schema comes from Alembic migrations (``upgrade``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # Several worker processes share the embedded SQLite file: WAL lets readers run during a write.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@functools.cache
def get_engine(url: str) -> Engine:
    """One engine per URL and process."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, json_deserializer=_json_loads)


_JSON = json.JSONDecoder()


def _json_loads(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads`` for the driver's JSON columns without its per-call encoding sniffing: the server
    sends UTF-8, and a list of runs decodes a dozen documents per row (most of its time before)."""
    text = data if isinstance(data, str) else str(data, "utf-8")
    try:
        value, end = _JSON.raw_decode(text)  # what the server sends starts with the value itself
    except json.JSONDecodeError:
        return _JSON.decode(text)  # leading blanks (a json, not jsonb, column), or the real error
    return value if end == len(text) else _JSON.decode(text)


@functools.cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = get_engine(url)
    command.upgrade(cfg, revision)
