"""Access rules per action: a small rule language, the defaults, and an optional policy file.

A rule is an expression of checks joined by ``and``, ``or``, ``not`` and parentheses:

* ``role:<name>``: the caller holds that role (case-insensitive);
* ``rule:<name>``: another rule of the policy holds;
* ``<credential>:<value>``: the caller's credential (``project_id``, ``user_id``...) equals the
  value, where ``%(<key>)s`` stands for the key of the target (``%(project_id)s`` is the
  project named in the URL);
* ``@`` always holds, ``!`` never does; an empty rule always holds.

Example: ``"role:admin or (role:member and project_id:%(project_id)s)"``. An action without a
rule of its own follows the rule ``default`` (``provider:<type>:use`` of a type without a rule too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Credentials = Mapping[str, Any]
Target = Mapping[str, Any]
Check = Callable[[Credentials, Target, "Policy"], bool]

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "owner": "project_id:%(project_id)s",
    "admin_or_owner": "rule:context_is_admin or rule:owner",
    "default": "rule:admin_or_owner",
    "all_tenants": "rule:context_is_admin",
    "migration:list": "rule:admin_or_owner",
    "migration:show": "rule:admin_or_owner",
    "migration:create": "rule:admin_or_owner",
    "migration:cancel": "rule:admin_or_owner",
    "migration:delete": "rule:admin_or_owner",
    "endpoint:list": "rule:admin_or_owner",
    "endpoint:show": "rule:admin_or_owner",
    "endpoint:create": "rule:admin_or_owner",
    "endpoint:update": "rule:admin_or_owner",
    "endpoint:delete": "rule:admin_or_owner",
    "endpoint:validate": "rule:admin_or_owner",
    "endpoint:list_instances": "rule:admin_or_owner",
    "endpoint:show_instance": "rule:admin_or_owner",
    "endpoint:list_networks": "rule:admin_or_owner",
    "endpoint:list_storage": "rule:admin_or_owner",
    "provider:list": "rule:admin_or_owner",
    "provider:schemas": "rule:admin_or_owner",
    # using a provider (endpoints, inline origin/destination, inventory): the local ones reach the
    # host's own directories, so only admins may by default
    **{f"provider:{kind}:use": "rule:context_is_admin" for kind in ("ova", "kvm", "stub")},
    # worker nodes and host diagnostics describe the service, not a project
    "service:list": "rule:context_is_admin",
    "service:show": "rule:context_is_admin",
    "diagnostics:get": "rule:context_is_admin",
    # regions are the service's: every project lists them, admins change them
    "region:create": "rule:context_is_admin",
    "region:update": "rule:context_is_admin",
    "region:delete": "rule:context_is_admin",
    **{
        f"{resource}:{verb}": "rule:admin_or_owner"
        for resource, verbs in {
            "transfer": ("list", "show", "create", "update", "delete", "delete_disks"),
            "execution": ("list", "show", "create", "cancel", "delete"),
            "deployment": ("list", "show", "create", "cancel", "delete"),
            "schedule": ("list", "show", "create", "update", "delete"),
        }.items()
        for verb in verbs
    },
}

_TOKEN_RE = re.compile(r"\s*(\(|\)|(?:%\(\w+\)s|[^\s()])+)")
_SUBST_RE = re.compile(r"%\((\w+)\)s")


class PolicyError(ValueError):
    """A rule that does not parse, or a reference to a rule that does not exist."""


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise PolicyError(f"cannot read rule {text!r} at {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


def _atom(token: str) -> Check:
    if token == "@":
        return lambda creds, target, policy: True
    if token == "!":
        return lambda creds, target, policy: False
    kind, sep, value = token.partition(":")
    if not sep or not kind or not value:
        raise PolicyError(f"a check is kind:value, @ or !; not {token!r}")
    if kind == "rule":
        return lambda creds, target, policy: policy.check_rule(value, creds, target)
    if kind == "role":
        wanted = value.lower()
        return lambda creds, target, policy: wanted in {str(r).lower() for r in creds.get("roles") or ()}

    def compare(creds: Credentials, target: Target, policy: Policy) -> bool:
        have = creds.get(kind)
        if have is None:
            return False
        try:
            expected = _SUBST_RE.sub(lambda m: str(target[m.group(1)]), value)
        except KeyError:
            return False
        return str(have) == expected

    return compare


class _Parser:
    """Recursive descent over ``or`` > ``and`` > ``not`` > parentheses and checks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def parse(self) -> Check:
        if not self.tokens:
            return lambda creds, target, policy: True
        check = self._or()
        if self.pos != len(self.tokens):
            raise PolicyError(f"unexpected {self.tokens[self.pos]!r} in rule {self.text!r}")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise PolicyError(f"rule {self.text!r} ends too early")
        self.pos += 1
        return token

    def _or(self) -> Check:
        parts = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda creds, target, policy: any(p(creds, target, policy) for p in parts)

    def _and(self) -> Check:
        parts = [self._not()]
        while self._peek() == "and":
            self.pos += 1
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda creds, target, policy: all(p(creds, target, policy) for p in parts)

    def _not(self) -> Check:
        if self._peek() == "not":
            self.pos += 1
            inner = self._not()
            return lambda creds, target, policy: not inner(creds, target, policy)
        return self._primary()

    def _primary(self) -> Check:
        token = self._take()
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise PolicyError(f"missing ')' in rule {self.text!r}")
            self.pos += 1
            return inner
        if token in (")", "and", "or", "not"):
            raise PolicyError(f"unexpected {token!r} in rule {self.text!r}")
        return _atom(token)


def parse_rule(text: str) -> Check:
    """Compile one rule; raises ``PolicyError`` naming what is wrong."""
    if not isinstance(text, str):
        raise PolicyError(f"a rule is a string, not {type(text).__name__}")
    return _Parser(text).parse()


def _referenced(text: str) -> set[str]:
    return {t[len("rule:"):] for t in _tokens(text) if t.startswith("rule:")}


def _check_references(rules: Mapping[str, str]) -> None:
    """Every ``rule:`` names a rule, and no rule refers back to itself (so checks always end)."""
    refs = {name: _referenced(text) for name, text in rules.items()}
    for name, names in refs.items():
        missing = names - set(rules)
        if missing:
            raise PolicyError(f"policy rule {name!r} refers to unknown rule {sorted(missing)[0]!r}")
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise PolicyError("policy rules refer to each other in a loop: " + " -> ".join((*path, name)))
        if name in done:
            return
        for ref in sorted(refs[name]):
            visit(ref, (*path, name))
        done.add(name)

    for name in refs:
        visit(name, ())


class Policy:
    """The rules in force: the defaults overlaid by a policy file's rules."""

    def __init__(self, rules: Mapping[str, str] | None = None) -> None:
        merged = {**DEFAULT_RULES, **(rules or {})}
        self.rules = merged
        self._checks: dict[str, Check] = {}
        for name, text in merged.items():
            try:
                self._checks[name] = parse_rule(text)
            except PolicyError as exc:
                raise PolicyError(f"policy rule {name!r}: {exc}") from None
        _check_references(merged)

    def check_rule(self, name: str, creds: Credentials, target: Target) -> bool:
        """Whether rule ``name`` holds (``rule:`` checks land here)."""
        check = self._checks.get(name)
        return bool(check and check(creds, target, self))

    def allows(self, action: str, creds: Credentials, target: Target) -> bool:
        """Whether ``creds`` may do ``action`` on ``target`` (unknown actions follow ``default``)."""
        return self.check_rule(action if action in self._checks else "default", creds, target)


def _read(file: Path, text: str) -> Any:
    if file.suffix in (".yaml", ".yml"):
        import yaml  # comes with oslo.config, which keystonemiddleware needs

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"policy_file {file} is not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"policy_file {file} is not valid JSON: {exc}") from None


def load_policy(path: str = "") -> Policy:
    """The defaults, overlaid by the JSON (or ``.yaml``/``.yml``) file at ``path`` (empty: defaults)."""
    if not path:
        return Policy()
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read policy_file {path}: {exc.strerror}") from None
    data = _read(file, text)
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise PolicyError(f"policy_file {path} must map rule names to rule strings")
    return Policy(data)
