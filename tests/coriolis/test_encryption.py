"""Connection info encrypted at rest: raw rows, key rotation with ``coriolis rotate-keys``, wrong keys."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from coriolis.config import load_settings
from coriolis.database import encrypted
from coriolis.database.models import Endpoint
from coriolis.database.session import get_engine, session_scope, upgrade
from tests.conftest import STATE_DIR

PASSWORD = f"pw-{uuid.uuid4().hex}"


def _raw(url: str, endpoint_id: str) -> str:
    with get_engine(url).connect() as conn:
        return conn.execute(text("SELECT connection_info FROM endpoints WHERE id = :i"), {"i": endpoint_id}).scalar()


def _add_endpoint(url: str, info: dict) -> str:
    with session_scope(url) as s:
        endpoint = Endpoint(project_id="p", user_id="u", name="e", type="stub", connection_info=info)
        s.add(endpoint)
        s.flush()
        return endpoint.id


def _read(url: str, endpoint_id: str):
    with session_scope(url) as s:
        return s.get(Endpoint, endpoint_id).connection_info


def _rotate(url: str, keys: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "CORIOLIS_DATABASE_URL": url, "CORIOLIS_ENCRYPTION_KEYS": ",".join(keys)}
    return subprocess.run([sys.executable, "-m", "coriolis.cli", "rotate-keys"], env=env, capture_output=True,
                          text=True, timeout=120)


def test_api_rows_hold_no_plaintext(client, project, db_url):
    body = {"endpoint": {"name": "enc", "type": "stub", "connection_info": {"password": PASSWORD}}}
    endpoint = client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]
    assert endpoint["connection_info"] == {"password": "***"}
    raw = _raw(db_url, endpoint["id"])
    assert PASSWORD not in raw and "password" not in raw and raw.startswith("gAAAAA")
    migration = {"migration": {
        "origin": {"type": "stub", "connection_info": {"password": PASSWORD, "instances": ["vm-1"]}},
        "destination": {"type": "stub", "connection_info": {"password": PASSWORD}}, "instances": ["vm-1"],
    }}
    # the migration is stored, then queued: no worker is needed to inspect the row
    resp = client.post(f"/v1/{project}/migrations", json=migration)
    assert resp.status_code == 202, resp.get_json()
    created = resp.get_json()["migration"]
    assert created["origin"] == {"type": "stub", "connection_info": {"password": "***", "instances": ["vm-1"]}}
    assert "origin_connection_info" not in created
    with get_engine(db_url).connect() as conn:
        row = conn.execute(text("SELECT * FROM migrations WHERE id = :i"), {"i": created["id"]}).mappings().one()
    assert PASSWORD not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["origin_connection_info"].startswith("gAAAAA")


def test_rotation_reencrypts_and_old_rows_still_decrypt(private_db, keys):
    new, old = keys
    encrypted.use_keys([old])
    upgrade(private_db)
    first = _add_endpoint(private_db, {"password": PASSWORD})
    old_token = _raw(private_db, first)
    # the new key goes first: new rows use it, old rows still open
    encrypted.use_keys([new, old])
    assert _read(private_db, first) == {"password": PASSWORD}
    second = _add_endpoint(private_db, {"password": "second"})
    Fernet(new.encode()).decrypt(_raw(private_db, second).encode())

    done = _rotate(private_db, [new, old])
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 2 rows" in done.stdout
    for endpoint_id in (first, second):
        token = _raw(private_db, endpoint_id)
        json.loads(Fernet(new.encode()).decrypt(token.encode()))  # the new key alone opens every row
    assert _raw(private_db, first) != old_token
    encrypted.use_keys([new])
    assert _read(private_db, first) == {"password": PASSWORD}


def test_rotation_leaves_undecryptable_rows_alone_and_says_so(private_db, keys):
    new, old = keys
    encrypted.use_keys([old])
    upgrade(private_db)
    endpoint_id = _add_endpoint(private_db, {"password": PASSWORD})
    before = _raw(private_db, endpoint_id)
    done = _rotate(private_db, [new])
    assert done.returncode == 1
    assert "could not be decrypted" in done.stderr and PASSWORD not in done.stderr + done.stdout
    assert _raw(private_db, endpoint_id) == before


def test_a_wrong_key_shows_redacted_info_not_a_500(client, project, keys):
    body = {"endpoint": {"name": "lost", "type": "stub", "connection_info": {"password": PASSWORD}}}
    endpoint_id = client.post(f"/v1/{project}/endpoints", json=body).get_json()["endpoint"]["id"]
    encrypted.use_keys([keys[0]])  # the key that sealed the row is gone
    resp = client.get(f"/v1/{project}/endpoints/{endpoint_id}")
    assert resp.status_code == 200
    assert resp.get_json()["endpoint"]["connection_info"] == {"undecryptable": "***"}
    assert client.get(f"/v1/{project}/endpoints").status_code == 200
    # an unrelated update must not destroy the sealed value ...
    assert client.put(f"/v1/{project}/endpoints/{endpoint_id}", json={"endpoint": {"name": "x"}}).status_code == 200
    encrypted.use_keys(None)
    assert client.get(f"/v1/{project}/endpoints/{endpoint_id}").get_json()["endpoint"]["connection_info"] == {
        "password": "***"
    }
    # ... and new connection info replaces it
    encrypted.use_keys([keys[0]])
    new_info = {"endpoint": {"connection_info": {"instances": ["a"]}}}
    assert client.put(f"/v1/{project}/endpoints/{endpoint_id}", json=new_info).status_code == 200
    assert client.get(f"/v1/{project}/endpoints/{endpoint_id}").get_json()["endpoint"]["connection_info"] == {
        "instances": ["a"]
    }


def test_the_worker_side_error_is_clear(keys):
    from coriolis_tasks.connections import resolve_connection_info
    from providers.types import ProviderError

    token = encrypted.Keyring([keys[1]]).encrypt_json({"password": PASSWORD})
    encrypted.use_keys([keys[0]])
    value = encrypted.EncryptedJSON().process_result_value(token, None)
    assert value == {} and isinstance(value, encrypted.Undecryptable)
    with pytest.raises(ProviderError, match="cannot be decrypted with the configured encryption_keys"):
        resolve_connection_info(value)


def test_bad_keys_are_refused_at_startup_without_echoing_them():
    bad = "not-a-fernet-key-" + PASSWORD
    with pytest.raises(ValueError, match="key #2 is not a Fernet key") as caught:
        load_settings({"CORIOLIS_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{bad}"})
    assert PASSWORD not in str(caught.value)
    assert bad not in repr(load_settings({}).replace(encryption_keys=Fernet.generate_key().decode()))


def test_dev_key_is_made_once_with_mode_0600(tmp_path, caplog):
    key = encrypted.dev_key(str(tmp_path))
    path = tmp_path / "encryption.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "no encryption_keys configured" in caplog.text
    assert encrypted.dev_key(str(tmp_path)) == key
    Fernet(key.encode())
    # the test run's own processes share one such key in the run's state dir
    assert (STATE_DIR / "encryption.key").exists()


def test_migration_0002_moves_and_encrypts_existing_rows_and_downgrades(private_db, keys):
    from alembic import command
    from alembic.config import Config

    from coriolis.database.session import MIGRATIONS_DIR

    encrypted.use_keys([keys[0]])
    upgrade(private_db, "0001")
    engine = get_engine(private_db)
    origin = {"type": "stub", "connection_info": {"password": PASSWORD}}
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO endpoints (id, project_id, user_id, name, type, description, connection_info, "
                 "mapped_regions, created_at, deleted) VALUES ('e1', 'p', 'u', 'n', 'stub', '', :ci, '[]', "
                 "'2026-01-01', false)"),
            {"ci": json.dumps({"password": PASSWORD})},
        )
        conn.execute(
            text("INSERT INTO migrations (id, project_id, user_id, status, origin, destination, "
                 "source_environment, destination_environment, network_map, storage_mappings, user_scripts, "
                 "instances, notes, skip_os_morphing, shutdown_instances, info, transfer_result, dispatched, "
                 "created_at, deleted) VALUES ('m1', 'p', 'u', 'COMPLETED', :o, :d, '{}', '{}', '{}', '{}', "
                 "'{}', '[]', '', false, false, '{}', '{}', false, '2026-01-01', false)"),
            {"o": json.dumps(origin), "d": json.dumps({"type": "stub", "target_environment": {"a": 1}})},
        )
    upgrade(private_db, "0002")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM migrations")).mappings().one()
        endpoint_raw = conn.execute(text("SELECT connection_info FROM endpoints")).scalar()
    assert PASSWORD not in json.dumps({k: str(v) for k, v in row.items()}) and PASSWORD not in endpoint_raw
    assert row["destination_connection_info"] is None
    ring = encrypted.keyring()
    assert ring.decrypt_json(row["origin_connection_info"]) == {"password": PASSWORD}
    assert ring.decrypt_json(endpoint_raw) == {"password": PASSWORD}

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT origin, destination FROM migrations")).one()
        endpoint_back = conn.execute(text("SELECT connection_info FROM endpoints")).scalar()
    decode = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
    assert decode(back.origin) == origin
    assert decode(back.destination) == {"type": "stub", "target_environment": {"a": 1}}
    assert decode(endpoint_back) == {"password": PASSWORD}
