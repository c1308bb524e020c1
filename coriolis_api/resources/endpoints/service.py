"""Endpoint logic: CRUD in the database; connection checks and inventory through a worker."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any

import regex
from celery.exceptions import TimeoutError as CeleryTimeout
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import defer

from coriolis.config import Settings
from coriolis.database import redaction
from coriolis.database.models import Endpoint, Migration, Transfer, utcnow
from coriolis.statuses import FINISHED_MIGRATION
from coriolis_api.context import RequestContext
from coriolis_api.documents import instance_info, inventory
from coriolis_api.pagination import paginate
from coriolis_api.resources.common import (
    check_id,
    check_provider_use,
    provider_for,
    shown_connection_info,
    validate_connection_info,
)
from coriolis_api.resources.regions import views as regions
from providers.registry import UnknownProvider, get_provider

BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SORT_KEYS = ("created_at", "updated_at", "id", "name", "type", "description")
WORKER_TIMEOUT = 60


def create(session, ctx: RequestContext, body: dict[str, Any]) -> Endpoint:
    try:
        spec = get_provider(body["type"])
    except UnknownProvider:
        abort(400, message=f"unknown provider type {body['type']!r}")
    validate_connection_info(spec, body["connection_info"])
    regions.check_regions(session, body["mapped_regions"])
    endpoint = Endpoint(project_id=ctx.project_id, user_id=ctx.user_id, **body)
    session.add(endpoint)
    session.flush()
    return endpoint


def get(session, ctx: RequestContext, endpoint_id: str) -> Endpoint:
    check_id(endpoint_id, "endpoint")
    endpoint = session.get(Endpoint, endpoint_id)
    if endpoint is None or endpoint.deleted or endpoint.project_id != ctx.project_id:
        abort(404, message=f"endpoint {endpoint_id} not found")
    return endpoint


def list_(session, ctx: RequestContext, args: dict, settings: Settings) -> list[Endpoint]:
    query = select(Endpoint).where(ctx.project_filter(Endpoint.project_id), Endpoint.deleted.is_(False))
    query = query.options(defer(Endpoint.connection_info))  # responses show its plain redacted sibling
    return list(session.scalars(paginate(session, query, Endpoint, args, SORT_KEYS, settings.page_limit_max)))


def update(session, ctx: RequestContext, endpoint_id: str, body: dict[str, Any]) -> Endpoint:
    endpoint = get(session, ctx, endpoint_id)
    if "connection_info" in body:
        try:
            body["connection_info"] = redaction.unmask(body["connection_info"], endpoint.connection_info)
        except redaction.MaskWithoutValue as exc:
            abort(400, message=f"connection_info.{exc}: *** stands for a stored secret, and none is stored there")
        validate_connection_info(provider_for_type(endpoint.type), body["connection_info"])
    if "mapped_regions" in body:
        regions.check_regions(session, body["mapped_regions"])
    for key, value in body.items():
        setattr(endpoint, key, value)
    endpoint.updated_at = utcnow()
    return endpoint


def provider_for_type(ptype: str):
    try:
        spec = get_provider(ptype)
    except UnknownProvider:
        abort(400, message=f"unknown provider type {ptype!r}")
    check_provider_use(spec)
    return spec


def delete(session, ctx: RequestContext, endpoint_id: str) -> None:
    endpoint = get(session, ctx, endpoint_id)
    in_use = session.scalars(
        select(Migration.id).where(
            (Migration.origin_endpoint_id == endpoint.id) | (Migration.destination_endpoint_id == endpoint.id),
            Migration.status.not_in(list(FINISHED_MIGRATION)),
            Migration.deleted.is_(False),
        )
    ).first()
    if in_use:
        abort(409, message=f"endpoint is used by migration {in_use}, which has not finished")
    transfer = session.scalars(
        select(Transfer.id).where(
            (Transfer.origin_endpoint_id == endpoint.id) | (Transfer.destination_endpoint_id == endpoint.id),
            Transfer.deleted.is_(False),
        )
    ).first()
    if transfer:
        abort(409, message=f"endpoint is used by transfer {transfer}: delete the transfer first")
    endpoint.deleted = True
    endpoint.deleted_at = utcnow()


def _ask(task_name: str, *args: Any) -> dict[str, Any]:
    from coriolis_tasks.app import celery_app

    try:
        return celery_app.send_task(task_name, args=args).get(timeout=WORKER_TIMEOUT)
    except CeleryTimeout:
        abort(504, message="no worker answered in time; are the control workers running?")


def _value(answer: dict[str, Any]) -> Any:
    if not answer["ok"]:
        abort(answer.get("status") or (404 if answer.get("not_found") else 400), message=answer["message"])
    return answer["value"]


def ask_worker(task_name: str, *args: Any) -> Any:
    """Run an inventory call on a worker (where secrets are resolved) and wait for its answer."""
    return _value(_ask(task_name, *args))


def decoded_instance_id(text: str) -> str | None:
    """``text`` read as upstream clients encode an instance id in a path (URL-safe base64 of its UTF-8), or None
    when it is not that (not canonical base64, or not UTF-8 text without control characters)."""
    if not text or len(text) % 4 or not BASE64URL.fullmatch(text):
        return None
    try:
        decoded = base64.urlsafe_b64decode(text).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not decoded or CONTROL.search(decoded) or base64.urlsafe_b64encode(decoded.encode()).decode() != text:
        return None
    return decoded


def instance(endpoint: Endpoint, instance_id: str, args: dict | None = None) -> dict[str, Any]:
    """One instance, named by its id in URL-safe base64 (upstream clients) or literally (older clients), read
    with the source options of ``?env=`` (those the provider does not use are ignored).

    The base64 reading is tried first; when it names no instance, the literal one is (an id such as
    ``abcd`` is valid base64 of other bytes). When neither names one, the 404 names the decoded id (the one
    the caller asked for).
    """
    env = parse_env((args or {}).get("env"))
    decoded = decoded_instance_id(instance_id)
    if decoded is None:
        return instance_info.export_info(ask_worker("coriolis.control.get_instance", endpoint.id, instance_id, env))
    answer = _ask("coriolis.control.get_instance", endpoint.id, decoded, env)
    if answer["ok"] or not answer.get("not_found"):
        return instance_info.export_info(_value(answer))
    literal = _ask("coriolis.control.get_instance", endpoint.id, instance_id, env)
    return instance_info.export_info(_value(answer if literal.get("not_found") else literal))


NAME_MATCH_SECONDS = 2.0


def _matching(rows: list[dict[str, Any]], pattern: str) -> list[dict[str, Any]]:
    """Rows whose name matches the regular expression ``pattern`` (searched, ignoring case), with a
    time limit for the whole list: a pattern that backtracks without end gets 400, never a stuck thread."""
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        abort(400, message=f"name is not a valid regular expression: {exc}")
    deadline = time.monotonic() + NAME_MATCH_SECONDS
    out = []
    for row in rows:
        left = deadline - time.monotonic()
        try:
            if left <= 0 or compiled.search(row["name"], timeout=left):
                out.append(row)
        except TimeoutError:
            left = 0
        if left <= 0:
            abort(400, message="name: the regular expression takes too long to match")
    return out


def instances(endpoint: Endpoint, args: dict) -> list[dict[str, Any]]:
    """The endpoint's instances, read with the source options of ``?env=``, filtered by name (a regular
    expression) and paged by marker (an instance id)."""
    provider_for(endpoint.type, "source")
    env = parse_env(args.get("env"))
    rows = [instance_info.summary(r) for r in ask_worker("coriolis.control.list_instances", endpoint.id, env)]
    if args.get("name"):
        rows = _matching(rows, args["name"])
    rows.sort(key=lambda r: r["id"])
    if args.get("marker"):
        ids = [r["id"] for r in rows]
        if args["marker"] not in ids:
            abort(400, message=f"marker {args['marker']} not found")
        rows = rows[ids.index(args["marker"]) + 1 :]
    return rows[: args["limit"]] if args.get("limit") else rows


_SHOWN_COLUMNS = tuple(
    c.name for c in Endpoint.__table__.columns if c.name not in ("connection_info", "connection_info_redacted")
)


def parse_env(text: str | None) -> dict[str, Any] | None:
    """``?env=``: a JSON object, or a base64-encoded one (upstream clients encode it); 400 otherwise."""
    if text is None:
        return None
    raw = text.strip()
    if not raw.startswith("{"):
        try:
            padded = raw.translate(str.maketrans("-_", "+/")) + "=" * (-len(raw) % 4)
            raw = base64.b64decode(padded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            abort(400, message="env must be a JSON object or a base64-encoded JSON object")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        abort(400, message="env must be a JSON object or a base64-encoded JSON object")
    if not isinstance(value, dict):
        abort(400, message="env must be a JSON object")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def networks(endpoint: Endpoint, args: dict) -> list[dict[str, Any]]:
    """The endpoint's networks, listed by a worker (400 when its provider cannot list them)."""
    provider_for_type(endpoint.type)
    return ask_worker("coriolis.control.list_networks", endpoint.id, parse_env(args.get("env")))


def storage(endpoint: Endpoint, args: dict) -> dict[str, Any]:
    """The endpoint's storage backends in upstream's shape: ``{"storage_backends", "config_default"}``."""
    provider_for_type(endpoint.type)
    rows = ask_worker("coriolis.control.list_storage", endpoint.id, parse_env(args.get("env")))
    return inventory.storage(rows)


def present(endpoint: Endpoint) -> dict[str, Any]:
    data = {name: getattr(endpoint, name) for name in _SHOWN_COLUMNS}
    data["connection_info"] = shown_connection_info(endpoint, "connection_info")
    return data
