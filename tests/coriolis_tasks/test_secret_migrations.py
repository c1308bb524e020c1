"""Stub migrations whose credentials live in OpenBao and Barbican, through real workers: no secret leaks.

The secrets are read only by the workers; afterwards the API responses, every database row
(raw SQL) and every log written during the test are searched for the secret strings.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from coriolis.database.session import get_engine
from tests.conftest import STATE_DIR
from tests.coriolis_tasks.helpers import wait_finished
from tests.fixtures.barbican import barbican  # noqa: F401  (session fixture)
from tests.fixtures.keystone import keystone  # noqa: F401  (session fixture)
from tests.fixtures.openbao import openbao  # noqa: F401  (session fixture)

SRC_PASSWORD = f"src-pw-{uuid.uuid4().hex}"
DST_PASSWORD = f"dst-pw-{uuid.uuid4().hex}"
INLINE_PASSWORD = f"inline-pw-{uuid.uuid4().hex}"
SECRETS = (SRC_PASSWORD, DST_PASSWORD, INLINE_PASSWORD)


def _restart(workers, env: dict[str, str]) -> None:
    workers.stop()
    workers.env = env
    for queue in list(workers.procs):
        workers.start(queue)
    workers.wait_ready()


@pytest.fixture(scope="module")
def secret_workers(workers, openbao, barbican, tmp_path_factory) -> Iterator:  # noqa: F811
    """The run's workers, restarted with OpenBao (secret_id) and Barbican (secret_ref) configured."""
    token = openbao.scoped_token("coriolis", 'path "secret/data/coriolis/*" { capabilities = ["read"] }')
    token_file = tmp_path_factory.mktemp("vault") / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    extra = {
        "CORIOLIS_SECRET_BACKEND": "vault",
        "CORIOLIS_VAULT_URL": openbao.url,
        "CORIOLIS_VAULT_TOKEN_FILE": str(token_file),
        "CORIOLIS_BARBICAN_URL": barbican.url,
        **{f"CORIOLIS_{k.upper()}": v for k, v in barbican.reader_settings().items()},
    }
    original = dict(workers.env)
    _restart(workers, {**original, **extra})
    try:
        yield workers
    finally:
        _restart(workers, original)


@pytest.fixture()
def api_log(tmp_path) -> Iterator[Path]:
    """Everything this (API) process logs during the test, at DEBUG, in a file."""
    path = tmp_path / "api.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def _dump_database(url: str) -> str:
    engine = get_engine(url)
    parts = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).all():
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def _migration(origin_info: dict, destination_info: dict, **sides) -> dict:
    body = {
        "origin": {"type": "stub", "connection_info": origin_info},
        "destination": {"type": "stub", "connection_info": destination_info, "target_environment": {}},
        "instances": ["vm-1"],
        "source_environment": {"disk_size_mb": 4},
    }
    body.update(sides)
    return {"migration": body}


def test_migrations_with_secrets_complete_and_leak_nothing(
    secret_workers, live_client, openbao, barbican, api_log, tmp_path  # noqa: F811
):
    project = f"secrets-{uuid.uuid4().hex[:8]}"
    responses: list[str] = []

    def call(method: str, path: str, **kwargs):
        resp = getattr(live_client, method)(f"/v1/{project}{path}", **kwargs)
        responses.append(resp.get_data(as_text=True))
        return resp

    vault_path = f"coriolis/stub-src-{uuid.uuid4().hex[:6]}"
    openbao.put(vault_path, {"instances": ["vm-1"], "password": SRC_PASSWORD})
    href = barbican.store(json.dumps({"storage_dir": str(tmp_path / "dest"), "password": DST_PASSWORD}))

    # 1. source in OpenBao (secret_id), destination in Barbican (secret_ref)
    resp = call("post", "/migrations", json=_migration({"secret_id": vault_path}, {"secret_ref": href}))
    assert resp.status_code == 202, resp.get_json()
    created = resp.get_json()["migration"]
    assert created["origin"]["connection_info"] == {"secret_id": vault_path}
    assert created["destination"]["connection_info"] == {"secret_ref": href}
    done = wait_finished(live_client, project, created["id"], 120)
    assert done["status"] == "COMPLETED", done["last_error"]
    assert done["transfer_result"]["vm-1"]["boot"]["booted"] is True
    assert Path(done["transfer_result"]["vm-1"]["disks"][0]["path"]).is_relative_to(tmp_path / "dest")
    responses.append(json.dumps(done, default=str))

    # 2. an endpoint with inline credentials (encrypted at rest) as the source, Barbican as destination
    resp = call("post", "/endpoints", json={"endpoint": {
        "name": "inline", "type": "stub", "connection_info": {"instances": ["vm-1"], "password": INLINE_PASSWORD},
    }})
    assert resp.get_json()["endpoint"]["connection_info"] == {"instances": ["vm-1"], "password": "***"}
    endpoint_id = resp.get_json()["endpoint"]["id"]
    assert call("get", f"/endpoints/{endpoint_id}/instances").status_code == 200
    body = _migration({}, {"secret_ref": href}, origin_endpoint_id=endpoint_id)
    del body["migration"]["origin"]
    resp = call("post", "/migrations", json=body)
    assert resp.status_code == 202, resp.get_json()
    done = wait_finished(live_client, project, resp.get_json()["migration"]["id"], 120)
    assert done["status"] == "COMPLETED", done["last_error"]

    # 3. failures are clear and name no secret: a missing secret, and one that does not fit the schema
    openbao.put(f"{vault_path}-bad", {"instances": ["vm-1"], "colour": SRC_PASSWORD})
    for reference, expected in (
        (f"{vault_path}-missing", "not found"),
        (f"{vault_path}-bad", "does not fit the stub connection info schema (fields: colour)"),
    ):
        resp = call("post", "/migrations", json=_migration({"secret_id": reference}, {"secret_ref": href}))
        failed = wait_finished(live_client, project, resp.get_json()["migration"]["id"], 60)
        assert failed["status"] == "ERROR" and expected in failed["last_error"], failed["last_error"]
        responses.append(json.dumps(failed, default=str))

    for resp_path in ("/migrations/detail", "/endpoints"):
        assert call("get", resp_path).status_code == 200

    haystacks = {"API responses": "\n".join(responses)}
    haystacks["database"] = _dump_database(secret_workers.settings.database_url)
    haystacks["API log"] = api_log.read_text(errors="replace")
    for log in sorted((STATE_DIR / "worker-logs").glob("*.log")):
        haystacks[f"worker log {log.name}"] = log.read_text(errors="replace")
    assert any(vault_path in text for text in haystacks.values())  # the search does see what is stored
    for where, haystack in haystacks.items():
        for secret in SECRETS:
            assert secret not in haystack, f"a secret appears in the {where}"
