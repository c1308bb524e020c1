"""What responses show of sealed connection info, stored beside it so that reads never decrypt.

Every encrypted column ``<name>`` that has a plain JSON sibling ``<name>_redacted`` keeps there
``{"view": <what responses show>, "key": <id of the key that sealed the value>}``: key names with
``***`` values, or a secret reference as given (references are not secrets). The key id tells,
without decrypting, whether a configured key still opens the value; when none does, responses
show ``{"undecryptable": "***"}`` as they do after a failed decryption. The sibling is written
whenever the value is set through the ORM, by the schema migration that added it, and by
``coriolis rotate-keys``; a NULL sibling (a row written some other way) means "decrypt to know".
"""

from __future__ import annotations

import hashlib
from typing import Any

REFERENCE_KEYS = frozenset({"secret_ref", "secret_id"})
# keys the service itself adds and responses never show: a run's Keystone trust (coriolis.trusts.TRUST_KEY)
NEVER_SHOWN = frozenset({"keystone_trust_id"})
UNDECRYPTABLE_VIEW = {"undecryptable": "***"}
SUFFIX = "_redacted"


def redact(connection_info: dict[str, Any] | None) -> dict[str, Any]:
    """Connection info as responses show it: references as given, every inline value as ``***``.

    Keys in ``NEVER_SHOWN`` are left out.
    """
    info = {k: v for k, v in (connection_info or {}).items() if k not in NEVER_SHOWN}
    if set(info) and set(info) <= REFERENCE_KEYS:
        return dict(info)
    return {key: "***" for key in info}


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
