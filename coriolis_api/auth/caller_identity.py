"""Runs with the caller's identity: which connection info may ask for it, and the trust each such run gets.

See ``coriolis/trusts.py``. The API checks that ``use_caller_identity`` names its own Keystone and
that it validates callers with Keystone; at the creation of a run that uses such a connection
info it delegates the caller's roles to the service user through a Keystone trust, kept
(encrypted) with the run until the run ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from flask import g
from flask_smorest import abort

from coriolis import trusts
from coriolis.database.models import Endpoint, Migration
from coriolis_api.context import RequestContext
from coriolis_api.state import settings

log = logging.getLogger(__name__)


def check(info: dict[str, Any]) -> None:
    """400 unless a connection info's use of the caller's identity is valid here.

    Nobody may name a stored trust; ``use_caller_identity`` needs the Keystone auth strategy and
    the auth_url of the Keystone the API trusts (the service user's password goes only there).
    """
    if trusts.TRUST_KEY in info:
        abort(400, message=f"invalid connection_info: {trusts.TRUST_KEY} is set by the service")
    if trusts.CALLER_IDENTITY not in info:
        return
    value = info[trusts.CALLER_IDENTITY]
    if value is not True and value not in (False, None):
        abort(400, message=f"invalid connection_info: {trusts.CALLER_IDENTITY}: not a boolean")
    if not value:
        return
    conf = settings()
    if conf.auth_strategy != "keystone":
        abort(400, message=f"invalid connection_info: {trusts.CALLER_IDENTITY} needs the API to run with "
              "auth_strategy keystone")
    if not trusts.is_trusted_keystone(str(info.get("auth_url") or ""), conf):
        abort(400, message=f"invalid connection_info: {trusts.CALLER_IDENTITY} is only valid with the auth_url "
              "of the Keystone this API validates tokens against")


def _uses_caller_identity(session, run: Migration) -> bool:
    infos = [trusts.without_trust(run.origin_connection_info), trusts.without_trust(run.destination_connection_info)]
    for endpoint_id in (run.origin_endpoint_id, run.destination_endpoint_id):
        endpoint = session.get(Endpoint, endpoint_id) if endpoint_id else None
        if endpoint is not None:
            infos.append(endpoint.connection_info)
    return any(trusts.uses_caller_identity(i) for i in infos)


def _delegate(session, ctx: RequestContext, run: Migration) -> str | None:
    """Make and store the run's trust when it uses the caller's identity; returns its id."""
    if not _uses_caller_identity(session, run):
        return None
    conf = settings()
    identity = g.get("coriolis_identity")
    if conf.auth_strategy != "keystone" or identity is None or not ctx.auth_token:
        abort(400, message=f"an endpoint of this run uses {trusts.CALLER_IDENTITY}, which needs the API to "
              "run with auth_strategy keystone")
    if identity.project_id != ctx.project_id:
        abort(400, message=f"{trusts.CALLER_IDENTITY} acts in the project of the caller's token: use a token "
              f"scoped to project {ctx.project_id}")
    try:
        trust_id = trusts.create_trust(conf, ctx.auth_token, identity.user_id, ctx.project_id, list(ctx.roles))
    except trusts.TrustError as exc:
        abort(exc.status, message=str(exc))
    trusts.store_trust(run, trust_id)
    return trust_id


@contextlib.contextmanager
def delegation(session, ctx: RequestContext, run: Migration) -> Iterator[None]:
    """Give a new run its trust (if it needs one) around the block that stores the run.

    A failure inside the block deletes the trust again (the caller, its trustor, may), so a run
    that was never stored leaves none behind.
    """
    trust_id = _delegate(session, ctx, run)
    try:
        yield
    except BaseException:
        if trust_id:
            _forget(ctx, trust_id)
        raise


def _forget(ctx: RequestContext, trust_id: str) -> None:
    from keystoneauth1 import exceptions as ks_exceptions
    from keystoneauth1 import session as ks_session

    url = f"{settings().keystone_auth_url}/OS-TRUST/trusts/{trust_id}"
    try:
        answer = ks_session.Session(timeout=trusts.TIMEOUT).delete(
            url, headers={"X-Auth-Token": ctx.auth_token}, log=False, raise_exc=False
        )
        ok = answer.status_code in (204, 404)
    except ks_exceptions.ClientException:
        ok = False
    if not ok:
        log.error("a trust made for a run that was not stored could not be deleted; it expires by itself")
