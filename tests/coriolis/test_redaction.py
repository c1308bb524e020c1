"""The plain redacted siblings of sealed connection info: written by the ORM, revision 0004 and rotate-keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from coriolis import trusts
from coriolis.database import encrypted, redaction
from coriolis.database.models import Endpoint, Migration
from coriolis.database.session import get_engine, session_scope, upgrade

PASSWORD = f"pw-{uuid.uuid4().hex}"


def _siblings(url: str, table: str) -> dict[str, dict]:
    columns = {"endpoints": ["connection_info_redacted"],
               "migrations": ["origin_connection_info_redacted", "destination_connection_info_redacted"]}[table]
    with get_engine(url).connect() as conn:
        rows = conn.execute(text(f"SELECT id, {', '.join(columns)} FROM {table}")).mappings().all()
    decode = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
    return {r["id"]: {c: decode(r[c]) for c in columns} for r in rows}


def test_the_orm_writes_the_view_and_the_sealing_key(private_db, keys):
    encrypted.use_keys([keys[0]])
    upgrade(private_db)
    with session_scope(private_db) as s:
        endpoint = Endpoint(project_id="p", user_id="u", name="e", type="stub", connection_info={"password": PASSWORD})
        run = Migration(project_id="p", user_id="u", status="PENDING")
        run.origin_connection_info = {"secret_ref": "https://barbican/v1/secrets/x"}
        s.add_all([endpoint, run])
        s.flush()
        trusts.store_trust(run, "trust-1")  # the service's own key: sealed, never shown
        ids = endpoint.id, run.id
    kid = redaction.key_id(keys[0])
    assert _siblings(private_db, "endpoints")[ids[0]] == {
        "connection_info_redacted": {"view": {"password": "***"}, "key": kid}}
    assert _siblings(private_db, "migrations")[ids[1]] == {
        "origin_connection_info_redacted": {"view": {"secret_ref": "https://barbican/v1/secrets/x"}, "key": kid},
        "destination_connection_info_redacted": {"view": {}, "key": kid},
    }
    assert trusts.TRUST_KEY in redaction.NEVER_SHOWN
    assert PASSWORD not in json.dumps(_siblings(private_db, "endpoints"))


def test_revision_0004_fills_existing_rows(private_db, keys):
    encrypted.use_keys([keys[1], keys[0]])
    upgrade(private_db, "0003")
    ring = encrypted.keyring()
    old_ring = encrypted.Keyring([keys[0]])
    lost = encrypted.Keyring([Fernet.generate_key().decode()]).encrypt_json({"token": "x"})
    with get_engine(private_db).begin() as conn:
        conn.execute(
            text("INSERT INTO endpoints (id, project_id, user_id, name, type, description, connection_info, "
                 "mapped_regions, created_at, deleted) VALUES ('e1', 'p', 'u', 'n', 'stub', '', :a, '[]', "
                 "'2026-01-01', false), ('e2', 'p', 'u', 'n', 'stub', '', :b, '[]', '2026-01-01', false)"),
            {"a": old_ring.encrypt_json({"password": PASSWORD}), "b": lost},
        )
        conn.execute(
            text("INSERT INTO migrations (id, project_id, user_id, status, origin, destination, "
                 "origin_connection_info, source_environment, destination_environment, network_map, "
                 "storage_mappings, user_scripts, instances, notes, skip_os_morphing, shutdown_instances, info, "
                 "transfer_result, dispatched, created_at, deleted, type) VALUES ('m1', 'p', 'u', 'COMPLETED', "
                 "'{}', '{}', :o, '{}', '{}', '{}', '{}', '{}', '[]', '', false, false, '{}', '{}', false, "
                 "'2026-01-01', false, 'migration')"),
            {"o": ring.encrypt_json({"username": "u", "password": PASSWORD})},
        )
    upgrade(private_db)
    endpoints = _siblings(private_db, "endpoints")
    # the value sealed with the second key names that key; one no key opens is left to readers
    assert endpoints["e1"]["connection_info_redacted"] == {"view": {"password": "***"}, "key": ring.ids[1]}
    assert endpoints["e2"]["connection_info_redacted"] is None
    assert _siblings(private_db, "migrations")["m1"] == {
        "origin_connection_info_redacted": {"view": {"username": "u", "password": "***"}, "key": ring.ids[0]},
        "destination_connection_info_redacted": {"view": {}},
    }


def test_rotate_keys_moves_the_sibling_to_the_new_key(private_db, keys):
    new, old = keys
    encrypted.use_keys([old])
    upgrade(private_db)
    with session_scope(private_db) as s:
        endpoint = Endpoint(project_id="p", user_id="u", name="e", type="stub", connection_info={"password": PASSWORD})
        s.add(endpoint)
        s.flush()
        endpoint_id = endpoint.id
    env = {**os.environ, "CORIOLIS_DATABASE_URL": private_db, "CORIOLIS_ENCRYPTION_KEYS": f"{new},{old}"}
    done = subprocess.run([sys.executable, "-m", "coriolis.cli", "rotate-keys"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _siblings(private_db, "endpoints")[endpoint_id]["connection_info_redacted"] == {
        "view": {"password": "***"}, "key": redaction.key_id(new)}
    # once the old key is dropped, the view is still shown: the new key sealed it
    assert redaction.shown(_siblings(private_db, "endpoints")[endpoint_id]["connection_info_redacted"],
                           encrypted.Keyring([new]).id_set) == {"password": "***"}


def test_redaction_masks_only_secrets_and_keeps_json_types():
    info = {"host": "vc.lab", "port": 443, "allow_untrusted": False, "password": PASSWORD, "regions": ["a", "b"],
            "domain": None, "auth": {"user": "u", "application_credential_secret": "s3cr3t"}, "keys": [1, "x"]}
    view = redaction.redact(info)
    assert view == {"host": "vc.lab", "port": 443, "allow_untrusted": False, "password": "***",
                    "regions": ["a", "b"], "domain": None,
                    "auth": {"user": "***", "application_credential_secret": "***"}, "keys": ["***", "***"]}
    assert PASSWORD not in json.dumps(view)


def test_a_masked_value_sent_back_keeps_what_is_stored():
    stored = {"host": "vc.lab", "password": PASSWORD, "nested": {"token": "t0k3n"}}
    sent = {"host": "vc2.lab", "password": "***", "nested": {"token": "***"}}
    assert redaction.unmask(sent, stored) == {"host": "vc2.lab", "password": PASSWORD, "nested": {"token": "t0k3n"}}
    with pytest.raises(redaction.MaskWithoutValue, match="other"):
        redaction.unmask({"other": "***"}, stored)
