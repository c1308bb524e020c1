"""Pieces shared by resources: redaction, id checks, environment validation against providers."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import current_app, g, request
from flask_smorest import abort
from marshmallow import ValidationError

from coriolis.database import redaction
from coriolis.database.encrypted import Undecryptable, keyring
from coriolis_api.auth import caller_identity, policy
from coriolis_api.errors import _flatten
from providers import localpaths
from providers.registry import ProviderSpec, UnknownProvider, get_provider

SECRET_REF_KEYS = {"secret_ref", "secret_id"}


def check_id(value: str, what: str) -> None:
    """A malformed id cannot name anything: answer 404 as for a missing one."""
    try:
        uuid.UUID(value)
    except ValueError:
        abort(404, message=f"{what} {value} not found")


MAX_INSTANCE_ID = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_instance_id(value: str) -> None:
    """An instance id (a provider's name or path for a VM) is 1..1024 characters, none a control one."""
    if not value or len(value) > MAX_INSTANCE_ID or _CONTROL.search(value):
        abort(404, message=f"instance {value[:80]!r} not found")


def redact(connection_info: dict[str, Any] | None) -> dict[str, Any]:
    """Connection info as responses show it: references as given, every inline value as ``***``.

    A stored value no configured key decrypts shows as ``{"undecryptable": "***"}``.
    """
    if isinstance(connection_info, Undecryptable):
        return dict(redaction.UNDECRYPTABLE_VIEW)
    return redaction.redact(connection_info)


def shown_connection_info(record: Any, name: str) -> dict[str, Any]:
    """``redact(record.<name>)`` read from its plain ``<name>_redacted`` sibling, without decrypting.

    Only a record whose sibling is unset (written outside the ORM) has its sealed value loaded.
    """
    view = redaction.shown(getattr(record, name + redaction.SUFFIX), keyring().id_set)
    return view if view is not None else redact(getattr(record, name))


def provider_for(ptype: str, role: str) -> ProviderSpec:
    """The provider named ``ptype``, which must be able to act as ``role`` (source/destination)."""
    try:
        spec = get_provider(ptype)
    except UnknownProvider:
        abort(400, message=f"unknown provider type {ptype!r}")
    if role not in spec.abilities:
        abort(400, message=f"provider {ptype!r} cannot be a migration {role}")
    check_provider_use(spec)
    return spec


def _project() -> str | None:
    return (request.view_args or {}).get("project_id")


def check_provider_use(spec: ProviderSpec) -> None:
    """403 unless the policy lets the caller use ``spec`` (``provider:<type>:use``; local ones: admins)."""
    identity = g.get("coriolis_identity")
    if identity is None:  # every /v1 request has one; nothing else gets here
        abort(401, message="authentication required")
    action = f"provider:{spec.name}:use"
    if not policy().allows(action, identity.credentials(), {"project_id": _project()}):
        abort(403, message=f"policy does not allow {action}")


def check_local_paths(spec: ProviderSpec, info: dict[str, Any], what: str = "connection_info") -> None:
    """400 naming the field when a host path in ``info`` resolves outside the operator's roots."""
    if not spec.local_path_fields:
        return
    roots = localpaths.roots_for(current_app.config["CORIOLIS_SETTINGS"], spec.name, _project())
    try:
        localpaths.check_connection(spec.name, spec.local_path_fields, info, roots)
    except localpaths.PathNotAllowed as exc:
        abort(400, message=f"invalid {what}: {exc}")


def validate_with(schema_cls, data: dict[str, Any], what: str) -> None:
    """Validate ``data`` with a provider schema; a 400 names each bad field."""
    try:
        schema_cls().load(data)
    except ValidationError as exc:
        abort(400, message=f"invalid {what}: " + "; ".join(_flatten(exc.messages)))


def validate_connection_info(spec: ProviderSpec, info: dict[str, Any]) -> None:
    """Provider policy, schema and host paths of a connection info (a secret's are checked by the worker)."""
    check_provider_use(spec)
    caller_identity.check(info)
    if set(info) & SECRET_REF_KEYS:
        if len(info) != 1 or not isinstance(next(iter(info.values())), str):
            abort(400, message="a secret reference is exactly one of secret_ref or secret_id, a string")
        return
    validate_with(spec.connection_schema, info, "connection_info")
    check_local_paths(spec, info)
