"""Fixtures of the core tests: fresh encryption keys, and a database of a test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from coriolis.database import encrypted
from coriolis.database.session import get_engine
from tests.conftest import PG_ADMIN_URL


@pytest.fixture()
def keys() -> Iterator[list[str]]:
    """Two fresh keys; whatever a test sets with ``use_keys`` is undone afterwards."""
    yield [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    encrypted.use_keys(None)


@pytest.fixture(params=["sqlite", "postgresql"])
def private_db(request, tmp_path) -> Iterator[str]:
    """A database of its own, SQLite then PostgreSQL: key rotation and upgrades must not touch the
    database the workers share."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'private.sqlite'}"
        return
    name = f"coriolis_private_{uuid.uuid4().hex[:8]}"
    admin = get_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
