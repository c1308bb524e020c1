"""Secrets by reference against a real OpenBao (Vault API) and a real Barbican behind a real Keystone."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from coriolis.config import load_settings
from coriolis.secrets import SecretError, masking, resolve
from tests.fixtures.barbican import barbican  # noqa: F401  (session fixture)
from tests.fixtures.keystone import free_port, keystone  # noqa: F401  (session fixture)
from tests.fixtures.openbao import openbao  # noqa: F401  (session fixture)

PASSWORD = f"pw-{uuid.uuid4().hex}"


def _settings(**values):
    return load_settings({}).replace(**values)


@pytest.fixture()
def vault_settings(openbao):  # noqa: F811
    return _settings(secret_backend="vault", vault_url=openbao.url, vault_token=openbao.root_token)


@pytest.fixture()
def barbican_settings(barbican):  # noqa: F811
    return _settings(secret_backend="barbican", barbican_url=barbican.url, **barbican.reader_settings())


def _no_secret_in(exc: BaseException) -> None:
    """Neither the message nor a chained exception (shown in tracebacks) carries the secret."""
    assert PASSWORD not in str(exc) and exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None


# --- Vault (OpenBao) ---

def test_vault_path_resolves_to_the_stored_connection_info(openbao, vault_settings):  # noqa: F811
    openbao.put("coriolis/vsphere-lab", {"host": "10.0.0.10", "password": PASSWORD, "allow_untrusted": True})
    info = resolve({"secret_id": "coriolis/vsphere-lab"}, vault_settings)
    assert info == {"host": "10.0.0.10", "password": PASSWORD, "allow_untrusted": True}


def test_vault_connection_info_as_one_json_string(openbao, vault_settings):  # noqa: F811
    openbao.put("coriolis/as-json", {"connection_info": json.dumps({"password": PASSWORD, "port": 443})})
    assert resolve({"secret_id": "coriolis/as-json"}, vault_settings) == {"password": PASSWORD, "port": 443}
    openbao.put("coriolis/bad-json", {"connection_info": "{" + PASSWORD})
    with pytest.raises(SecretError, match="not valid JSON") as caught:
        resolve({"secret_id": "coriolis/bad-json"}, vault_settings)
    _no_secret_in(caught.value)


def test_vault_token_file_and_a_policy_limited_token(openbao, tmp_path):  # noqa: F811
    openbao.put("coriolis/allowed", {"password": PASSWORD})
    openbao.put("other/forbidden", {"password": PASSWORD})
    token = openbao.scoped_token("coriolis-read", 'path "secret/data/coriolis/*" { capabilities = ["read"] }')
    token_file = tmp_path / "vault-token"
    token_file.write_text(token + "\n")
    settings = _settings(secret_backend="vault", vault_url=openbao.url, vault_token_file=str(token_file))
    assert resolve({"secret_id": "coriolis/allowed"}, settings) == {"password": PASSWORD}
    with pytest.raises(SecretError, match="refused access to Vault secret secret/other/forbidden"):
        resolve({"secret_id": "other/forbidden"}, settings)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"secret_id": "coriolis/does-not-exist"}, "Vault secret secret/coriolis/does-not-exist not found"),
        ({"secret_id": "coriolis/../sys/policy"}, "KV path"),
        ({"secret_id": ""}, "non-empty string"),
        ({"secret_id": "a", "secret_ref": "b"}, "exactly one"),
    ],
)
def test_vault_bad_references_are_clear_errors(vault_settings, reference, message):
    with pytest.raises(SecretError, match=message):
        resolve(reference, vault_settings)


def test_unreachable_vault_and_no_backend(vault_settings):
    with pytest.raises(SecretError, match="Vault is unreachable"):
        resolve({"secret_id": "coriolis/x"}, vault_settings.replace(vault_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(SecretError, match="no secret store is configured"):
        resolve({"secret_id": "coriolis/x"}, vault_settings.replace(secret_backend=""))


# --- Barbican (behind Keystone) ---

def test_barbican_ref_and_id_resolve(barbican, barbican_settings):  # noqa: F811
    href = barbican.store(json.dumps({"host": "vc.lab", "password": PASSWORD}))
    assert resolve({"secret_ref": href}, barbican_settings) == {"host": "vc.lab", "password": PASSWORD}
    secret_id = href.rsplit("/", 1)[1]
    assert resolve({"secret_id": secret_id}, barbican_settings)["password"] == PASSWORD
    # a secret_ref always means Barbican, whatever secret_backend says
    assert resolve({"secret_ref": href}, barbican_settings.replace(secret_backend="vault"))["host"] == "vc.lab"


def test_barbican_octet_stream_payload(barbican, barbican_settings):  # noqa: F811
    import base64

    payload = base64.b64encode(json.dumps({"password": PASSWORD}).encode()).decode()
    href = barbican.store(payload, content_type="application/octet-stream")
    # Barbican wants base64 for binary payloads on input; it returns the raw bytes
    answer = resolve({"secret_ref": href}, barbican_settings)
    assert answer == {"password": PASSWORD}


def test_barbican_payload_that_is_not_a_json_object(barbican, barbican_settings):  # noqa: F811
    href = barbican.store("host=vc.lab password=" + PASSWORD)
    with pytest.raises(SecretError, match="not valid JSON") as caught:
        resolve({"secret_ref": href}, barbican_settings)
    _no_secret_in(caught.value)
    href = barbican.store(json.dumps([PASSWORD]))
    with pytest.raises(SecretError, match="found a JSON list") as caught:
        resolve({"secret_ref": href}, barbican_settings)
    _no_secret_in(caught.value)


def test_barbican_errors(barbican, barbican_settings):  # noqa: F811
    missing = f"{barbican.url}/v1/secrets/{uuid.uuid4()}"
    with pytest.raises(SecretError, match="not found"):
        resolve({"secret_ref": missing}, barbican_settings)
    with pytest.raises(SecretError, match="a Barbican secret id is a UUID"):
        resolve({"secret_id": "not-a-uuid"}, barbican_settings)
    # the service user's token must never go to a host named by the caller
    elsewhere = f"http://127.0.0.1:{free_port()}/v1/secrets/{uuid.uuid4()}"
    with pytest.raises(SecretError, match="not a secret of the configured Barbican"):
        resolve({"secret_ref": elsewhere}, barbican_settings)
    with pytest.raises(SecretError, match="Keystone refused"):
        resolve({"secret_ref": missing}, barbican_settings.replace(barbican_password="wrong"))
    down = barbican_settings.replace(barbican_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SecretError, match="unreachable"):
        resolve({"secret_id": str(uuid.uuid4())}, down)
    with pytest.raises(SecretError, match="no key-manager endpoint"):
        resolve({"secret_ref": missing}, barbican_settings.replace(barbican_url=""))
    with pytest.raises(SecretError, match="Barbican is not configured"):
        resolve({"secret_ref": missing}, barbican_settings.replace(barbican_auth_url=""))


def test_barbican_with_the_callers_token(barbican, barbican_settings):  # noqa: F811
    href = barbican.store(json.dumps({"password": PASSWORD}))
    settings = barbican_settings.replace(barbican_username="", barbican_password="")
    assert resolve({"secret_ref": href}, settings, token=barbican.token("operator")) == {"password": PASSWORD}


# --- masking ---

def test_masking_hides_remembered_values_in_logs_and_tracebacks(caplog):
    masking.remember({"host": "vc.lab", "nested": {"api_key": PASSWORD}, "short": {"password": "abc"}})
    try:
        assert masking.mask(f"login with {PASSWORD} failed") == "login with *** failed"
        log = logging.getLogger("test.masking")
        with caplog.at_level(logging.INFO, logger="test.masking"):
            log.info("connecting with %s to %s", PASSWORD, "vc.lab")
            try:
                raise RuntimeError(f"auth failed: {PASSWORD}")
            except RuntimeError:
                log.exception("boom")
        text = caplog.text
        assert PASSWORD not in text and "connecting with *** to vc.lab" in text and "auth failed: ***" in text
    finally:
        masking.forget_all()
    assert masking.mask(PASSWORD) == PASSWORD
