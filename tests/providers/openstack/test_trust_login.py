"""The caller's identity through a Keystone trust: the worker's login, checked against real Keystone and Glance."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from coriolis import trusts
from coriolis.config import Settings
from providers.openstack.client import Cloud
from providers.openstack.options import load_connection
from providers.types import ProviderError


def _settings(keystone) -> Settings:
    return Settings(**{k: v for k, v in keystone.middleware_settings().items() if k != "keystone_token_cache_time"})


def _user_id(keystone, token: str) -> str:
    return keystone._call("GET", "/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]["user"]["id"]


def test_a_trust_login_acts_as_the_trustor_in_her_project(keystone, glance, tenant):
    settings = _settings(keystone)
    token = tenant.token()
    user_id = _user_id(keystone, token)
    trust_id = trusts.create_trust(settings, token, user_id, tenant.project_id, ["member"])
    trust = keystone._call("GET", f"/OS-TRUST/trusts/{trust_id}").json()["trust"]
    assert trust["trustor_user_id"] == user_id and trust["project_id"] == tenant.project_id
    assert trust["trustee_user_id"] == trusts.service_user_id(settings)
    assert trust["impersonation"] is True and [r["name"] for r in trust["roles"]] == ["member"]
    assert trust["expires_at"] is not None  # keystone_trust_hours: a week by default

    login = trusts.trust_connection({"auth_url": keystone.url + "/", "use_caller_identity": True}, trust_id, settings)
    cloud = Cloud(load_connection(login))
    assert cloud.sdk.session.get_user_id() == user_id  # impersonation: the token is the caller's
    assert cloud.sdk.session.get_project_id() == tenant.project_id
    name = f"trusted-{uuid.uuid4().hex[:8]}"
    image_id = cloud.create_image(name, "qcow2", "bare", {"coriolis_migration_id": "trust-test"})
    try:
        # Glance, asked with the caller's own token: the image is her project's
        seen = {i["id"]: i for i in glance.images(tenant.token())}
        assert seen[image_id]["owner"] == tenant.project_id and seen[image_id]["name"] == name
    finally:
        cloud.delete_image(image_id)

    trusts.delete_trust(settings, trust_id)
    with pytest.raises(RuntimeError, match="404"):
        keystone._call("GET", f"/OS-TRUST/trusts/{trust_id}")
    trusts.delete_trust(settings, trust_id)  # already gone: nothing to do
    with pytest.raises(ProviderError, match="connecting to Keystone"):
        Cloud(load_connection(login)).images()


def test_a_deleted_trust_with_wrong_service_credentials_is_an_error(keystone, tenant):
    settings = _settings(keystone)
    with pytest.raises(trusts.TrustError, match="service user cannot log in"):
        trusts.delete_trust(settings.replace(keystone_password="wrong"), uuid.uuid4().hex)


def test_the_trust_login_uses_the_configured_keystone_only(keystone):
    settings = _settings(keystone)
    with pytest.raises(trusts.TrustError, match="auth_url of the service's own Keystone"):
        trusts.trust_connection({"auth_url": "http://elsewhere.example/v3", "use_caller_identity": True}, "t", settings)
    with pytest.raises(trusts.TrustError, match="holds no Keystone trust"):
        trusts.trust_connection({"auth_url": keystone.url, "use_caller_identity": True}, None, settings)


CALLER = {"auth_url": "http://127.0.0.1:5000/v3", "use_caller_identity": True}


@pytest.mark.parametrize("extra", [{"username": "u"}, {"password": "p"}, {"token": "t"}, {"trust_id": "x"},
                                   {"project_name": "p"}, {"project_id": "p"}])
def test_the_caller_identity_takes_no_credentials(extra):
    with pytest.raises(ValidationError, match="use_caller_identity takes no"):
        load_connection({**CALLER, **extra})


def test_a_caller_identity_connection_needs_no_project_and_cannot_log_in_by_itself():
    connection = load_connection(CALLER)
    assert connection.use_caller_identity and connection.project_name is None
    with pytest.raises(ProviderError, match="only available inside a run"):
        Cloud(connection).images()


def test_a_trust_id_needs_the_trustees_password_and_no_project():
    base = {"auth_url": "http://127.0.0.1:5000/v3", "trust_id": "abc"}
    with pytest.raises(ValidationError, match="trustee's username and password"):
        load_connection(base)
    with pytest.raises(ValidationError, match="no token or project"):
        load_connection({**base, "username": "u", "password": "p", "project_name": "x"})
    connection = load_connection({**base, "username": "u", "password": "p", "user_domain_id": "default"})
    assert "abc" not in repr(connection) and "'p'" not in repr(connection)
