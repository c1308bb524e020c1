"""Pieces shared by resources: redaction, id checks, environment validation against providers."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask_smorest import abort
from marshmallow import ValidationError

from coriolis.database import redaction
from coriolis.database.encrypted import Undecryptable, keyring
from coriolis_api.auth import caller_identity
from coriolis_api.errors import _flatten
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
    return spec


def validate_with(schema_cls, data: dict[str, Any], what: str) -> None:
    """Validate ``data`` with a provider schema; a 400 names each bad field."""
    try:
        schema_cls().load(data)
    except ValidationError as exc:
        abort(400, message=f"invalid {what}: " + "; ".join(_flatten(exc.messages)))


def validate_connection_info(spec: ProviderSpec, info: dict[str, Any]) -> None:
    caller_identity.check(info)
    if set(info) & SECRET_REF_KEYS:
        if len(info) != 1 or not isinstance(next(iter(info.values())), str):
            abort(400, message="a secret reference is exactly one of secret_ref or secret_id, a string")
        return
    validate_with(spec.connection_schema, info, "connection_info")
