"""Secrets by reference: connection info kept in Barbican or Vault, fetched only where it is used."""

from __future__ import annotations

import json
from typing import Any

from coriolis.config import Settings, get_settings
from coriolis.secrets.errors import SecretError

REFERENCE_KEYS = ("secret_ref", "secret_id")

__all__ = ["REFERENCE_KEYS", "SecretError", "is_reference", "parse_payload", "resolve"]


def is_reference(connection_info: Any) -> bool:
    """Whether ``connection_info`` names a secret (``secret_ref`` or ``secret_id``) instead of holding values."""
    return isinstance(connection_info, dict) and any(k in connection_info for k in REFERENCE_KEYS)


def parse_payload(payload: str | bytes, what: str) -> dict[str, Any]:
    """The connection info a secret payload holds: a JSON object, else a ``SecretError``.

    The message names the secret (``what``), never its content.
    """
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise SecretError(f"{what} does not hold a JSON object (its payload is not valid JSON)") from None
    if not isinstance(value, dict):
        raise SecretError(f"{what} does not hold a JSON object (found a JSON {type(value).__name__})")
    return value


def resolve(reference: dict[str, Any], settings: Settings | None = None, token: str | None = None) -> dict[str, Any]:
    """Fetch the connection info a reference names.

    Args:
        reference: ``{"secret_ref": <Barbican secret href>}`` (always Barbican) or
            ``{"secret_id": <id>}`` (the configured ``secret_backend``: a Barbican secret uuid
            or a Vault KV v2 path such as ``coriolis/vsphere-lab``).
        settings: the settings to use (default: the process settings).
        token: a Keystone token of the caller, used for Barbican instead of the service user.

    Raises:
        SecretError: the secret is missing, unreadable, not a JSON object, or no backend is set up.
    """
    settings = settings or get_settings()
    if set(reference) - set(REFERENCE_KEYS) or len(reference) != 1:
        raise SecretError("a secret reference is exactly one of secret_ref or secret_id")
    key, value = next(iter(reference.items()))
    if not isinstance(value, str) or not value.strip():
        raise SecretError(f"{key} must be a non-empty string")
    if key == "secret_ref":
        from coriolis.secrets import barbican

        return barbican.fetch(settings, href=value.strip(), token=token)
    if settings.secret_backend == "barbican":
        from coriolis.secrets import barbican

        return barbican.fetch(settings, secret_id=value.strip(), token=token)
    if settings.secret_backend == "vault":
        from coriolis.secrets import vault

        return vault.fetch(settings, value.strip())
    raise SecretError(
        "connection_info references a secret (secret_id), but no secret store is configured: "
        "set secret_backend to barbican or vault"
    )
