"""Two projects (A, B) and users on a real Keystone: admin, alice (member of A), bob (member of B),
carol (only reader of A)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient

from coriolis.config import Settings
from tests.fixtures.keystone import ADMIN_PASSWORD, KeystoneServer, keystone  # noqa: F401


@dataclass
class Tenants:
    """The projects and users of these tests, with a fresh token per user."""

    server: KeystoneServer
    project_a: str
    project_b: str
    admin_project: str
    passwords: dict[str, tuple[str, str]] = field(default_factory=dict)  # user -> (password, project id)

    def token(self, user: str) -> str:
        password, project = self.passwords[user]
        return self.server.token(user, password, project_id=project)

    def headers(self, user: str) -> dict[str, str]:
        return {"X-Auth-Token": self.token(user)}


@pytest.fixture(scope="session")
def tenants(keystone: KeystoneServer) -> Tenants:  # noqa: F811
    a, b = keystone.create_project("project-a"), keystone.create_project("project-b")
    admin_project = keystone._call("GET", "/projects?name=admin").json()["projects"][0]["id"]
    out = Tenants(keystone, a, b, admin_project)
    keystone.create_user("alice", "alice-secret", a, "member")
    keystone.create_user("bob", "bob-secret", b, "member")
    keystone.create_user("carol", "carol-secret", a, "reader")
    out.passwords = {
        "admin": (ADMIN_PASSWORD, admin_project),
        "alice": ("alice-secret", a),
        "bob": ("bob-secret", b),
        "carol": ("carol-secret", a),
    }
    return out


@pytest.fixture(scope="session")
def tokens(tenants: Tenants) -> dict[str, dict[str, str]]:
    """One token per user for the session (tests that revoke take their own)."""
    return {user: tenants.headers(user) for user in tenants.passwords}


# local providers are admin-only by default (provider:<type>:use); these tests let members use the stub
# (a synthetic provider) so that they exercise tenancy, not that rule (tests/coriolis_api/auth/test_confinement.py)
STUB_FOR_MEMBERS = {"provider:stub:use": "rule:admin_or_owner"}


@pytest.fixture(scope="session")
def keystone_settings(sqlite_url: str, keystone: KeystoneServer, tmp_path_factory) -> Settings:  # noqa: F811
    from tests.conftest import make_settings

    policy = tmp_path_factory.mktemp("policy") / "stub-for-members.json"
    policy.write_text(json.dumps(STUB_FOR_MEMBERS))
    return make_settings(sqlite_url, policy_file=str(policy), **keystone.middleware_settings())


@pytest.fixture()
def make_client(keystone_settings: Settings) -> Callable[..., FlaskClient]:
    """A test client of an app behind the real auth_token middleware; ``**changes`` to settings."""
    from coriolis_api.app import create_app

    def build(**changes) -> FlaskClient:
        app = create_app(keystone_settings.replace(**changes))
        app.config["TESTING"] = True
        return app.test_client()

    return build


@pytest.fixture()
def ks_client(make_client) -> FlaskClient:
    return make_client()
