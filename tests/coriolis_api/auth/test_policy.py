"""The rule language of the policy layer, evaluated on its own (no Keystone needed)."""

from __future__ import annotations

import re

import pytest

from coriolis_api.auth.policy import DEFAULT_RULES, Policy, PolicyError, load_policy, parse_rule

MEMBER_OF_A = {"user_id": "u1", "project_id": "A", "roles": ["member", "reader"]}
ADMIN_OF_X = {"user_id": "root", "project_id": "X", "roles": ["Admin"]}
IN_A = {"project_id": "A"}
IN_B = {"project_id": "B"}


def holds(rule: str, creds, target, rules: dict[str, str] | None = None) -> bool:
    policy = Policy({**(rules or {}), "probe": rule})
    return policy.allows("probe", creds, target)


@pytest.mark.parametrize(
    ("rule", "target", "expected"),
    [
        ("", IN_A, True),
        ("@", IN_B, True),
        ("!", IN_A, False),
        ("role:member", IN_B, True),
        ("role:MEMBER", IN_B, True),
        ("role:admin", IN_A, False),
        ("project_id:%(project_id)s", IN_A, True),
        ("project_id:%(project_id)s", IN_B, False),
        ("project_id:%(absent)s", IN_A, False),
        ("project_id:A", IN_B, True),
        ("domain_id:default", IN_A, False),
        ("user_id:u1 and project_id:%(project_id)s", IN_A, True),
        ("role:admin or project_id:%(project_id)s", IN_A, True),
        ("role:admin or project_id:%(project_id)s", IN_B, False),
        ("not role:admin", IN_A, True),
        ("not not role:admin", IN_A, False),
        ("role:admin or role:member and project_id:%(project_id)s", IN_B, False),
        ("(role:admin or role:member) and project_id:%(project_id)s", IN_B, False),
        ("(role:admin or role:member) and project_id:%(project_id)s", IN_A, True),
        ("((role:reader))", IN_B, True),
        ("rule:owner", IN_A, True),
        ("rule:owner", IN_B, False),
        ("rule:context_is_admin", IN_A, False),
    ],
)
def test_rules_for_a_member(rule, target, expected):
    assert holds(rule, MEMBER_OF_A, target) is expected


def test_and_binds_tighter_than_or():
    assert holds("role:admin or role:nobody and role:nothing", ADMIN_OF_X, IN_A)
    assert not holds("(role:admin or role:nobody) and role:nothing", ADMIN_OF_X, IN_A)


ADMIN_ONLY = ("service:", "diagnostics:", "region:create", "region:update", "region:delete")


def test_defaults_are_owner_or_admin():
    policy = Policy()
    for action in [a for a in DEFAULT_RULES if ":" in a]:
        # worker nodes, host diagnostics and the shared regions are the service's: admins only
        assert policy.allows(action, MEMBER_OF_A, IN_A) is not action.startswith(ADMIN_ONLY), action
        assert not policy.allows(action, MEMBER_OF_A, IN_B), action
        assert policy.allows(action, ADMIN_OF_X, IN_B), action
    assert not policy.allows("all_tenants", MEMBER_OF_A, IN_A)
    assert policy.allows("all_tenants", ADMIN_OF_X, IN_A)


def test_an_action_without_a_rule_follows_default():
    assert Policy().allows("widget:create", MEMBER_OF_A, IN_A)
    assert not Policy().allows("widget:create", MEMBER_OF_A, IN_B)
    assert not Policy({"default": "!"}).allows("widget:create", ADMIN_OF_X, IN_A)


def test_missing_credentials_never_match():
    assert not holds("project_id:%(project_id)s", {"user_id": "u"}, IN_A)
    assert not holds("role:member", {}, IN_A)


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ("role:admin or", "ends too early"),
        ("(role:admin", "missing ')'"),
        ("role:admin)", "unexpected ')'"),
        ("role:admin role:member", "unexpected 'role:member'"),
        ("and role:admin", "unexpected 'and'"),
        ("admin", "kind:value"),
        ("role:", "kind:value"),
        (":admin", "kind:value"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(rule, needle):
    with pytest.raises(PolicyError, match=re.escape(needle)):
        parse_rule(rule)


def test_references_must_exist_and_not_loop():
    with pytest.raises(PolicyError, match="unknown rule 'ghost'"):
        Policy({"migration:list": "rule:ghost"})
    with pytest.raises(PolicyError, match="loop: "):
        Policy({"a": "rule:b", "b": "role:x or rule:a", "migration:list": "rule:a"})
    with pytest.raises(PolicyError, match="loop"):
        Policy({"self": "rule:self"})


def test_a_file_overlays_the_defaults(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("migration:delete: role:admin\n")
    policy = load_policy(str(path))
    assert not policy.allows("migration:delete", MEMBER_OF_A, IN_A)
    assert policy.allows("migration:show", MEMBER_OF_A, IN_A)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_policy(str(empty)).rules == DEFAULT_RULES
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(str(bad))
    listing = tmp_path / "list.json"
    listing.write_text('["role:admin"]')
    with pytest.raises(PolicyError, match="must map rule names"):
        load_policy(str(listing))
