"""Connection info encrypted at rest: a JSON column sealed with Fernet, keys from configuration.

``encryption_keys`` is a comma-separated list of Fernet keys: the first encrypts, all of them
decrypt, so a new key is put first and ``coriolis rotate-keys`` re-encrypts every row with it.
Without configured keys a development key is generated once into ``<state_dir>/encryption.key``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from coriolis.config import Settings, get_settings
from coriolis.database import redaction

log = logging.getLogger(__name__)
DEV_KEY_FILE = "encryption.key"


class EncryptionKeyError(ValueError):
    """The configured encryption keys are unusable."""


class Undecryptable(dict):
    """A stored value no configured key opens: reads as empty, writes back its ciphertext unchanged."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token


class Keyring:
    """The configured Fernet keys: the first encrypts, every one decrypts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise EncryptionKeyError("no encryption key configured")
        fernets = []
        for n, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError:
                raise EncryptionKeyError(
                    f"encryption_keys: key #{n} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        self.primary = fernets[0]
        self.all = MultiFernet(fernets)
        self.ids = [redaction.key_id(k) for k in keys]
        self.primary_id = self.ids[0]
        self.id_set = frozenset(self.ids)
        self._fernets = fernets

    def encrypt_json(self, value: Any) -> str:
        return self.primary.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def decrypt_json(self, token: str) -> Any:
        """The stored value; ``InvalidToken`` when no key opens it."""
        return json.loads(self.all.decrypt(token.encode()))

    def open(self, token: str) -> tuple[Any, str]:
        """The stored value and the id of the key that opened it; ``InvalidToken`` when none does."""
        for fernet, kid in zip(self._fernets, self.ids, strict=True):
            try:
                return json.loads(fernet.decrypt(token.encode())), kid
            except InvalidToken:
                continue
        raise InvalidToken

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the first key (``InvalidToken`` when no key opens it)."""
        return self.all.rotate(token.encode()).decode()


def dev_key(state_dir: str) -> str:
    """The development key in ``<state_dir>/encryption.key``, created once with mode 0600."""
    path = Path(state_dir) / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".encryption-key-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, Fernet.generate_key() + b"\n")
            os.close(fd)
            try:
                os.link(tmp, path)  # atomic: a concurrent process keeps the first key written
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        log.warning(
            "no encryption_keys configured: connection info is encrypted with a development key "
            "generated in %s; set encryption_keys in production", path,
        )
    return path.read_text().strip()


def keys_of(settings: Settings) -> list[str]:
    keys = [k.strip() for k in settings.encryption_keys.split(",") if k.strip()]
    return keys or [dev_key(settings.state_dir)]


_keyrings: dict[tuple[str, str], Keyring] = {}
_override: Keyring | None = None


def keyring() -> Keyring:
    """The process keyring, from the settings (or the keys given to ``use_keys``)."""
    if _override is not None:
        return _override
    settings = get_settings()
    cache_key = (settings.encryption_keys, settings.state_dir)
    if cache_key not in _keyrings:
        _keyrings[cache_key] = Keyring(keys_of(settings))
    return _keyrings[cache_key]


def use_keys(keys: list[str] | None) -> None:
    """Use ``keys`` instead of the configured ones in this process (``None``: back to the settings)."""
    global _override
    _override = Keyring(keys) if keys is not None else None


class EncryptedJSON(TypeDecorator):
    """A JSON value stored as a Fernet token in a text column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, Undecryptable):
            return value.token
        return keyring().encrypt_json(value)

    def process_result_value(self, value: str | None, dialect) -> Any:
        if value is None:
            return None
        try:
            return keyring().decrypt_json(value)
        except (InvalidToken, EncryptionKeyError):
            log.warning("stored connection info cannot be decrypted with the configured encryption_keys")
            return Undecryptable(value)


def rotate_all(engine, metadata) -> tuple[int, int]:
    """Re-encrypt every encrypted column of ``metadata`` with the first key.

    A column's ``<name>_redacted`` sibling, when the table has one, is rewritten with it (the
    view and the new key's id). Returns (rows re-encrypted, values no configured key opens: left
    as they are).
    """
    import sqlalchemy as sa

    ring, rotated, failed = keyring(), 0, 0
    for table in metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, EncryptedJSON)]
        if not names:
            continue
        siblings = [n + redaction.SUFFIX for n in names if n + redaction.SUFFIX in table.columns]
        (pk,) = [c.name for c in table.primary_key.columns]
        raw = sa.table(
            table.name, sa.column(pk), *(sa.column(n, Text()) for n in names),
            *(sa.column(n, sa.JSON()) for n in siblings),
        )
        with engine.begin() as conn:
            for row in conn.execute(sa.select(raw.c[pk], *(raw.c[n] for n in names))).all():
                values = {}
                for name in names:
                    token = getattr(row, name)
                    if token is None:
                        continue
                    try:
                        value, _kid = ring.open(token)
                    except InvalidToken:
                        failed += 1
                        log.error("%s %s: %s cannot be decrypted with any configured key", table.name, row[0], name)
                        continue
                    values[name] = ring.encrypt_json(value)
                    if name + redaction.SUFFIX in siblings:
                        values[name + redaction.SUFFIX] = redaction.stored(value, ring.primary_id)
                if values:
                    conn.execute(raw.update().where(raw.c[pk] == row[0]).values(**values))
                    rotated += 1
    return rotated, failed
