"""Tokens: 401 without a valid one, open routes, revocation, the token kept in the context only."""

from __future__ import annotations

import logging

import pytest
from flask import jsonify

from coriolis.database.models import Migration
from coriolis.database.session import session_scope
from coriolis_api.context import current
from tests.coriolis_api.auth.routes import ROUTES
from tests.coriolis_tasks.helpers import stub_migration


def _assert_401(resp, keystone_url: str) -> None:
    assert resp.status_code == 401, resp.get_json()
    assert resp.get_json()["error"] == {
        "code": 401, "fault": "unauthorized",
        "message": "authentication required: send a valid Keystone token in X-Auth-Token",
    }
    assert resp.headers.getlist("WWW-Authenticate") == [f'Keystone uri="{keystone_url}"']


BAD_TOKENS = {"none": None, "empty": "", "junk": "not-a-token", "fernet-like": "gAAAAABm" + "x" * 180}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_v1_route_needs_a_valid_token(ks_client, tenants, keystone, route, token):
    headers = {} if token is None else {"X-Auth-Token": token}
    url = route.url(tenants.project_a, "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001")
    _assert_401(ks_client.open(url, method=route.method, json=route.body, headers=headers), keystone.url)


def test_401_comes_before_routing_and_validation(ks_client, tenants, keystone):
    _assert_401(ks_client.get("/v1/nowhere/at-all"), keystone.url)
    _assert_401(ks_client.post(f"/v1/{tenants.project_a}/migrations", json={"nonsense": 1}), keystone.url)
    _assert_401(ks_client.post(f"/v1/{tenants.project_a}/migrations", data="{not json"), keystone.url)


def test_open_routes_need_no_token(ks_client):
    assert ks_client.get("/").status_code == 200
    assert ks_client.get("/health").status_code in (200, 503)  # what it reports is not about auth
    assert ks_client.get("/openapi.json").get_json()["info"]["title"] == "Coriolis"
    assert ks_client.get("/docs").status_code == 200


def test_a_revoked_token_is_refused_at_once(ks_client, tenants, keystone):
    token = tenants.token("alice")
    url = f"/v1/{tenants.project_a}/migrations"
    assert ks_client.get(url, headers={"X-Auth-Token": token}).status_code == 200
    keystone.revoke(token)
    _assert_401(ks_client.get(url, headers={"X-Auth-Token": token}), keystone.url)


def test_the_callers_token_is_in_the_context_but_never_stored(make_client, tenants):
    client = make_client()

    def whoami(project_id: str):
        ctx = current(project_id, "migration:list")
        return jsonify(user=ctx.user_id, project=ctx.project_id, roles=list(ctx.roles), admin=ctx.is_admin,
                       token=ctx.auth_token, shown=repr(ctx))

    client.application.add_url_rule("/v1/<project_id>/whoami", "whoami", whoami)
    token = tenants.token("alice")
    seen = client.get(f"/v1/{tenants.project_a}/whoami", headers={"X-Auth-Token": token}).get_json()
    assert seen["token"] == token and seen["project"] == tenants.project_a
    assert "member" in seen["roles"] and seen["admin"] is False
    assert token not in seen["shown"]
    resp = client.post(f"/v1/{tenants.project_a}/migrations", json=stub_migration(["vm-1"]),
                       headers={"X-Auth-Token": token})
    assert resp.status_code == 202 and token not in resp.get_data(as_text=True)
    with session_scope(client.application.config["CORIOLIS_SETTINGS"].database_url) as s:
        row = s.get(Migration, resp.get_json()["migration"]["id"])
        stored = repr({c.name: getattr(row, c.name) for c in Migration.__table__.columns})
    assert token not in stored
    admin = client.get(f"/v1/{tenants.project_a}/whoami", headers=tenants.headers("admin")).get_json()
    assert admin["admin"] is True and admin["project"] == tenants.project_a


def test_keystone_without_its_settings_fails_at_start(keystone_settings):
    from coriolis_api.app import create_app

    with pytest.raises(ValueError, match="keystone_auth_url, keystone_password"):
        create_app(keystone_settings.replace(keystone_auth_url="", keystone_password=""))


def test_settings_never_show_the_service_password(keystone_settings):
    assert keystone_settings.keystone_password not in repr(keystone_settings)


def test_noauth_is_the_default_and_says_so(sqlite_url, caplog):
    from coriolis.config import Settings
    from coriolis_api.app import create_app
    from tests.conftest import make_settings

    assert Settings().auth_strategy == "noauth"
    with caplog.at_level(logging.WARNING, logger="coriolis_api.app"):
        create_app(make_settings(sqlite_url))
    assert any("noauth" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
