"""Reading a secret's payload from OpenStack Barbican over a keystoneauth1 session (plain REST)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import v3

from coriolis.config import Settings
from coriolis.secrets import parse_payload
from coriolis.secrets.errors import SecretError

TIMEOUT = 15


def _session(settings: Settings, token: str | None) -> ks_session.Session:
    if token:
        if not settings.barbican_url:
            raise SecretError("barbican_url must be set to read secrets with the caller's token")
        return ks_session.Session(auth=token_endpoint.Token(settings.barbican_url, token), timeout=TIMEOUT)
    if not (settings.barbican_auth_url and settings.barbican_username):
        raise SecretError(
            "Barbican is not configured: set barbican_auth_url, barbican_username and barbican_password"
        )
    auth = v3.Password(
        auth_url=settings.barbican_auth_url,
        username=settings.barbican_username,
        password=settings.barbican_password,
        project_name=settings.barbican_project_name,
        user_domain_name=settings.barbican_user_domain,
        project_domain_name=settings.barbican_project_domain,
    )
    return ks_session.Session(auth=auth, timeout=TIMEOUT)


def _base_url(settings: Settings, session: ks_session.Session) -> str:
    """The Barbican root URL (without ``/v1``), from the settings or the Keystone catalog."""
    url = settings.barbican_url or session.get_endpoint(service_type="key-manager", interface="public")
    if not url:
        raise SecretError("no key-manager endpoint in the Keystone catalog; set barbican_url")
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def secret_url(base: str, href: str | None = None, secret_id: str | None = None) -> str:
    """The URL of a secret under ``base``; an href pointing anywhere else is refused.

    The service user's token goes with the request, so a reference must not be able to
    send it to a host of the caller's choosing.
    """
    if secret_id is None:
        parts, root = urlsplit(href or ""), urlsplit(base)
        prefix = root.path.rstrip("/") + "/v1/secrets/"
        if (parts.scheme, parts.netloc) != (root.scheme, root.netloc) or not parts.path.startswith(prefix):
            raise SecretError(f"secret_ref is not a secret of the configured Barbican ({base}/v1/secrets/...)")
        secret_id = parts.path[len(prefix):].strip("/")
    try:
        secret_id = str(uuid.UUID(secret_id))
    except ValueError:
        raise SecretError("a Barbican secret id is a UUID") from None
    return f"{base}/v1/secrets/{secret_id}"


def _get(session: ks_session.Session, url: str, accept: str) -> Any:
    try:
        # log=False: keystoneauth logs response bodies at DEBUG, and this body is the secret
        return session.get(url, headers={"Accept": accept}, raise_exc=False, log=False)
    except ks_exc.Unauthorized:
        raise SecretError("Keystone refused the credentials Coriolis uses to read Barbican secrets") from None
    except ks_exc.EndpointNotFound:
        raise SecretError("no key-manager endpoint in the Keystone catalog; set barbican_url") from None
    except (ks_exc.ConnectFailure, ks_exc.ConnectionError, ks_exc.ConnectTimeout, ks_exc.RetriableConnectionFailure):
        raise SecretError("Barbican (or Keystone) is unreachable") from None
    except ks_exc.ClientException as exc:
        raise SecretError(f"reading the Barbican secret failed ({type(exc).__name__})") from None


def _check(resp: Any, what: str) -> None:
    if resp.status_code == 404:
        raise SecretError(f"{what} not found")
    if resp.status_code in (401, 403):
        raise SecretError(f"Barbican refused access to {what} (HTTP {resp.status_code})")
    if resp.status_code >= 400:
        raise SecretError(f"Barbican answered HTTP {resp.status_code} for {what}")


def fetch(
    settings: Settings, href: str | None = None, secret_id: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """The connection info held by a Barbican secret, named by its ``href`` or its uuid."""
    session = _session(settings, token)
    try:
        base = _base_url(settings, session)
    except ks_exc.Unauthorized:
        raise SecretError("Keystone refused the credentials Coriolis uses to read Barbican secrets") from None
    except ks_exc.EndpointNotFound:
        raise SecretError("no key-manager endpoint in the Keystone catalog; set barbican_url") from None
    except (ks_exc.ConnectFailure, ks_exc.ConnectionError, ks_exc.ConnectTimeout):
        raise SecretError("Keystone is unreachable") from None
    except ks_exc.ClientException as exc:
        raise SecretError(f"finding Barbican in the Keystone catalog failed ({type(exc).__name__})") from None
    url = secret_url(base, href, secret_id)
    what = f"Barbican secret {url.rsplit('/', 1)[1]}"
    meta = _get(session, url, "application/json")
    _check(meta, what)
    content_type = ((meta.json().get("content_types") or {}).get("default")) or "text/plain"
    payload = _get(session, f"{url}/payload", content_type)
    _check(payload, what)
    return parse_payload(payload.content, what)
