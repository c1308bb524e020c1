"""Reading connection info from HashiCorp Vault (or OpenBao) KV version 2 with hvac."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_exc

from coriolis.config import Settings
from coriolis.secrets import parse_payload
from coriolis.secrets.errors import SecretError

TIMEOUT = 15
SEGMENT = re.compile(r"^[A-Za-z0-9_.@+=-]+$")
PAYLOAD_KEY = "connection_info"


def _token(settings: Settings) -> str:
    if settings.vault_token:
        return settings.vault_token
    if settings.vault_token_file:
        try:
            return Path(settings.vault_token_file).read_text().strip()
        except OSError as exc:
            raise SecretError(f"cannot read vault_token_file: {exc.strerror}") from None
    raise SecretError("Vault is not configured: set vault_token or vault_token_file")


def check_path(path: str) -> str:
    """A KV path of plain segments (``coriolis/vsphere-lab``); no ``..``, no empty segment."""
    segments = path.strip("/").split("/")
    if not all(SEGMENT.match(s) and s not in (".", "..") for s in segments):
        raise SecretError("a Vault secret_id is a KV path of letters, digits and - _ . @ + = segments")
    return "/".join(segments)


def fetch(settings: Settings, path: str) -> dict[str, Any]:
    """The connection info stored at ``path`` of the KV v2 mount ``vault_mount``.

    The secret's keys are the connection info (``{"host": ..., "password": ...}``); a secret
    holding a single ``connection_info`` key with a JSON string is read as that JSON object.
    """
    if not settings.vault_url:
        raise SecretError("Vault is not configured: set vault_url")
    path = check_path(path)
    what = f"Vault secret {settings.vault_mount}/{path}"
    client = hvac.Client(url=settings.vault_url, token=_token(settings), timeout=TIMEOUT)
    try:
        answer = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=settings.vault_mount, raise_on_deleted_version=True
        )
    except hvac_exc.InvalidPath:
        raise SecretError(f"{what} not found") from None
    except (hvac_exc.Forbidden, hvac_exc.Unauthorized):
        raise SecretError(f"Vault refused access to {what} (check the token and its policy)") from None
    except requests.exceptions.RequestException:
        raise SecretError("Vault is unreachable") from None
    except hvac_exc.VaultError as exc:
        raise SecretError(f"reading {what} failed ({type(exc).__name__})") from None
    data = ((answer or {}).get("data") or {}).get("data")
    if not isinstance(data, dict):
        raise SecretError(f"{what} holds no data")
    if set(data) == {PAYLOAD_KEY} and isinstance(data[PAYLOAD_KEY], str):
        return parse_payload(data[PAYLOAD_KEY], what)
    return json.loads(json.dumps(data))
