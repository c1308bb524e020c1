"""Keystone trusts: a run that acts with its caller's own identity, without stored credentials.

A connection info saying ``{"auth_url": <the API's Keystone>, "use_caller_identity": true}`` holds
no secret. When a run using it is created, the API asks Keystone, with the caller's token, for a
trust from the caller (trustor) to the Coriolis service user (trustee): the caller's roles on the
project, impersonation on. The trust id is kept in the run's encrypted destination connection
info (``TRUST_KEY``) and never shown; the worker logs in as the service user scoped by the trust,
so what it creates belongs to the caller's project and user. ``release`` deletes the trust when
the run ends. The Keystone URL is always the configured ``keystone_auth_url``, never one taken from
a connection info: the service password is sent nowhere else.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from coriolis.config import Settings
from coriolis.secrets import masking

log = logging.getLogger(__name__)

CALLER_IDENTITY = "use_caller_identity"
TRUST_KEY = "keystone_trust_id"  # inside a run's encrypted destination connection info
TIMEOUT = 30

_service_ids: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


class TrustError(Exception):
    """Keystone refused or could not be reached; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def uses_caller_identity(info: Any) -> bool:
    """Whether a connection info asks to run with the caller's identity."""
    return isinstance(info, dict) and info.get(CALLER_IDENTITY) is True


def _normalized(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{parts.path.rstrip('/')}"


def is_trusted_keystone(auth_url: str, settings: Settings) -> bool:
    """Whether ``auth_url`` is the Keystone the API validates tokens against."""
    return bool(settings.keystone_auth_url) and _normalized(auth_url) == _normalized(settings.keystone_auth_url)


def _service_auth(settings: Settings, trust_id: str | None = None) -> v3.Password:
    scope: dict[str, Any] = (
        {"trust_id": trust_id}
        if trust_id
        else {"project_name": settings.keystone_project_name, "project_domain_id": settings.keystone_project_domain_id}
    )
    return v3.Password(
        auth_url=settings.keystone_auth_url, username=settings.keystone_username,
        password=settings.keystone_password, user_domain_id=settings.keystone_user_domain_id, **scope,
    )


def _session(auth: Any = None) -> ks_session.Session:
    return ks_session.Session(auth=auth, timeout=TIMEOUT)


def service_user_id(settings: Settings) -> str:
    """The Keystone id of the service user (the trustee), asked once per process."""
    key = (settings.keystone_auth_url, settings.keystone_username)
    with _lock:
        if key not in _service_ids:
            try:
                _service_ids[key] = _session(_service_auth(settings)).get_user_id()
            except ks_exceptions.ClientException as exc:
                raise TrustError(f"the service user cannot log in to Keystone: {type(exc).__name__}", 503) from None
        return _service_ids[key]


def create_trust(settings: Settings, token: str, user_id: str, project_id: str, roles: list[str]) -> str:
    """Delegate the caller's ``roles`` on ``project_id`` to the service user; returns the trust id.

    Args:
        settings: the API settings (``keystone_*``, ``keystone_trust_hours``).
        token: the caller's own token (the trustor's), used for this call only.
        user_id: the caller's user id (the trustor).
        project_id: the project the token is scoped to.
        roles: the token's role names.
    """
    body: dict[str, Any] = {
        "trustor_user_id": user_id,
        "trustee_user_id": service_user_id(settings),
        "project_id": project_id,
        "impersonation": True,
        "roles": [{"name": r} for r in roles],
    }
    if settings.keystone_trust_hours > 0:
        expires = datetime.now(UTC) + timedelta(hours=settings.keystone_trust_hours)
        body["expires_at"] = expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    try:
        answer = _session().post(
            f"{settings.keystone_auth_url}/OS-TRUST/trusts", json={"trust": body},
            headers={"X-Auth-Token": token}, log=False, raise_exc=False,
        )
    except ks_exceptions.ClientException as exc:
        what = type(exc).__name__
        raise TrustError(f"Keystone cannot be reached to delegate the caller's identity: {what}", 503) from None
    if answer.status_code in (401, 403):
        raise TrustError("Keystone refused to delegate the caller's identity (a trust-scoped or "
                         "application credential token cannot delegate, or a role is missing)", 403)
    if answer.status_code != 201:
        raise TrustError(f"Keystone could not create a trust: HTTP {answer.status_code}")
    return answer.json()["trust"]["id"]


def delete_trust(settings: Settings, trust_id: str) -> None:
    """Delete a trust (already gone or expired: nothing to do); raises ``TrustError``.

    Keystone lets only the trustor (or an admin) delete a trust: the service user logs in scoped
    by the trust, which with impersonation makes it the trustor for this call.
    """
    masking.remember({"credential": trust_id})  # keystoneauth's debug log shows the trust in the token
    session = _session(_service_auth(settings, trust_id))
    url = f"{settings.keystone_auth_url}/OS-TRUST/trusts/{trust_id}"
    try:
        session.delete(url, log=False)
    except ks_exceptions.NotFound:
        return
    except ks_exceptions.Unauthorized:
        # a deleted or expired trust cannot scope a login: gone, unless the service login itself fails
        try:
            _session(_service_auth(settings)).get_token()
        except ks_exceptions.ClientException as exc:
            raise TrustError(f"the service user cannot log in to Keystone: {type(exc).__name__}") from None
        return
    except ks_exceptions.ClientException as exc:
        raise TrustError(f"Keystone did not delete the trust: {type(exc).__name__}") from None


def stored_trust(run: Any) -> str | None:
    """The trust id kept with a run (``Migration`` row), if any."""
    info = getattr(run, "destination_connection_info", None)
    return info.get(TRUST_KEY) if isinstance(info, dict) else None


def store_trust(run: Any, trust_id: str | None) -> None:
    """Keep ``trust_id`` in the run's encrypted destination connection info (``None``: remove it)."""
    info = dict(run.destination_connection_info or {})
    if trust_id is None:
        info.pop(TRUST_KEY, None)
    else:
        info[TRUST_KEY] = trust_id
    # the endpoint's info is used when the run names one: nothing but the trust is left then
    run.destination_connection_info = info or None


def without_trust(info: Any) -> Any:
    """A connection info as stored, minus the trust id (what providers and responses see)."""
    if isinstance(info, dict) and TRUST_KEY in info:
        return {k: v for k, v in info.items() if k != TRUST_KEY}
    return info


def trust_connection(info: dict[str, Any], trust_id: str | None, settings: Settings) -> dict[str, Any]:
    """The Keystone credentials a provider logs in with for a caller-identity connection info.

    Raises:
        TrustError: the run has no trust (made without a caller: a schedule...) or the service
            is not configured for Keystone.
    """
    if not trust_id:
        raise TrustError("this run uses the caller's identity but holds no Keystone trust: runs started "
                         "without a caller (schedules) need credentials in the endpoint")
    if not (settings.keystone_auth_url and settings.keystone_username and settings.keystone_password):
        raise TrustError("the caller's identity needs keystone_auth_url, keystone_username and "
                         "keystone_password in the worker's settings")
    if not is_trusted_keystone(str(info.get("auth_url", "")), settings):
        raise TrustError("use_caller_identity is only valid with the auth_url of the service's own Keystone")
    masking.remember({"credential": trust_id, "password": settings.keystone_password})
    rest = {k: v for k, v in info.items() if k not in (CALLER_IDENTITY, "auth_url")}
    return {
        **rest,
        "auth_url": settings.keystone_auth_url,
        "username": settings.keystone_username,
        "password": settings.keystone_password,
        "user_domain_id": settings.keystone_user_domain_id,
        "trust_id": trust_id,
    }


def release(settings: Settings, run_id: str) -> bool:
    """Delete the trust of a finished run and forget it (idempotent; ``False`` when Keystone failed).

    A trust Keystone could not delete stays recorded, so a later call retries; its expiry
    (``keystone_trust_hours``) bounds it meanwhile.
    """
    from coriolis.database.models import Migration
    from coriolis.database.session import session_scope

    with session_scope(settings.database_url) as s:
        run = s.get(Migration, run_id)
        trust_id = stored_trust(run) if run is not None else None
    if not trust_id:
        return True
    try:
        delete_trust(settings, trust_id)
    except TrustError as exc:
        log.error("run %s: the caller's Keystone trust could not be deleted (retried later): %s", run_id, exc)
        return False
    with session_scope(settings.database_url) as s:
        run = s.get(Migration, run_id)
        if stored_trust(run) == trust_id:
            store_trust(run, None)
    log.info("run %s: the caller's Keystone trust was deleted", run_id)
    return True


def hand_over(session: Any, from_run: Any, to_run: Any) -> None:
    """Move a run's trust to the run it starts (an execution's automatic deployment)."""
    trust_id = stored_trust(from_run)
    if trust_id:
        store_trust(to_run, trust_id)
        store_trust(from_run, None)
        session.flush()
