"""What responses show of sealed connection info, stored beside it so that reads never decrypt.

Every encrypted column ``<name>`` that has a plain JSON sibling ``<name>_redacted`` keeps there
``{"view": <what responses show>, "key": <id of the key that sealed the value>}``: the value with every
secret (a value under a key such as ``password``, ``token``, ``private_key``...) shown as ``***`` and every
other value kept with its JSON type, or a secret reference as given (references are not secrets). The key id tells,
without decrypting, whether a configured key still opens the value; when none does, responses
show ``{"undecryptable": "***"}`` as they do after a failed decryption. The sibling is written
whenever the value is set through the ORM, by the schema migration that added it, and by
``coriolis rotate-keys``; a NULL sibling (a row written some other way) means "decrypt to know".
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

REFERENCE_KEYS = frozenset({"secret_ref", "secret_id"})
# keys the service itself adds and responses never show: a run's Keystone trust (coriolis.trusts.TRUST_KEY)
NEVER_SHOWN = frozenset({"keystone_trust_id"})
UNDECRYPTABLE_VIEW = {"undecryptable": "***"}
SUFFIX = "_redacted"
MASK = "***"
# a key naming a secret (or a subtree of secrets), erring on the side of masking (``auth_url`` is masked too);
# host paths (``storage_dir``, ``path``) are masked as well: they tell a tenant how worker hosts are laid out
SECRET_KEY = re.compile(r"pass|secret|token|key|credential|private|auth|cert|cookie|session|dir|path",
                        re.IGNORECASE)


def _masked(value: Any, secret: bool) -> Any:
    """``value`` with the scalars under a secret key as ``***``; structure, nulls and booleans kept."""
    if isinstance(value, dict):
        return {k: _masked(v, secret or bool(SECRET_KEY.search(str(k)))) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secret) for v in value]
    if secret and value is not None and not isinstance(value, bool):
        return MASK
    return value


def redact(connection_info: dict[str, Any] | None) -> dict[str, Any]:
    """Connection info as responses show it: references as given; inline, every secret as ``***`` and every
    other value as it is (same JSON type), so that a form can show and send it back.

    Keys in ``NEVER_SHOWN`` are left out.
    """
    info = {k: v for k, v in (connection_info or {}).items() if k not in NEVER_SHOWN}
    if set(info) and set(info) <= REFERENCE_KEYS:
        return dict(info)
    return _masked(info, False)


class MaskWithoutValue(ValueError):
    """A ``***`` sent back where nothing is stored to keep."""


def unmask(new: Any, stored: Any, path: str = "") -> Any:
    """``new`` with every ``***`` replaced by the value stored at the same place: a masked value sent back (an
    edit form that got ``***``) means "keep what is stored". Raises ``MaskWithoutValue`` naming the place
    when nothing is stored there."""
    if new == MASK:
        if stored is None:
            raise MaskWithoutValue(path or "connection_info")
        return stored
    if isinstance(new, dict):
        base = stored if isinstance(stored, dict) else {}
        return {k: unmask(v, base.get(k), f"{path}.{k}" if path else str(k)) for k, v in new.items()}
    if isinstance(new, list):
        base = stored if isinstance(stored, list) else []
        return [unmask(v, base[i] if i < len(base) else None, f"{path}[{i}]") for i, v in enumerate(new)]
    return new


def key_id(key: str) -> str:
    """A short one-way id of a Fernet key (safe to store: it reveals nothing of the key)."""
    return hashlib.sha256(b"coriolis-key-id:" + key.strip().encode()).hexdigest()[:16]


NOTHING_SEALED: dict[str, Any] = {"view": {}}


def stored(connection_info: dict[str, Any] | None, sealing_key_id: str) -> dict[str, Any]:
    """The sibling column's value for ``connection_info`` sealed with the key of ``sealing_key_id``.

    ``None`` (no connection info: an endpoint is used instead) is stored unsealed, so no key is named.
    """
    if connection_info is None:
        return dict(NOTHING_SEALED)
    return {"view": redact(connection_info), "key": sealing_key_id}


def shown(value: dict[str, Any] | None, key_ids: frozenset[str]) -> dict[str, Any] | None:
    """What a response shows from a sibling value (``None``: unknown, decrypt the sealed value)."""
    if not isinstance(value, dict) or not isinstance(value.get("view"), dict):
        return None
    if value.get("key") is not None and value["key"] not in key_ids:
        return dict(UNDECRYPTABLE_VIEW)
    return dict(value["view"])
