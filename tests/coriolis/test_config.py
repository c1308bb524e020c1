"""Settings: defaults, environment over file, validation."""

from __future__ import annotations

import pytest

from coriolis.config import load_settings


def test_defaults_derive_from_the_state_dir():
    settings = load_settings({"CORIOLIS_STATE_DIR": "/srv/c"})
    assert settings.database_url == "sqlite:////srv/c/coriolis.sqlite"
    assert settings.staging_dir == "/srv/c/staging"
    assert settings.api_port == 7667 and settings.auth_strategy == "noauth"
    assert settings.redis_url == "" and settings.effective_broker_url == ""


def test_environment_wins_over_the_file(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('api_port = 9000\nredis_url = "redis://file/0"\nqueue_prefix = "x-"\n')
    settings = load_settings(
        {"CORIOLIS_CONFIG_FILE": str(conf), "CORIOLIS_API_PORT": "9100", "CORIOLIS_STATE_DIR": str(tmp_path)}
    )
    assert settings.api_port == 9100
    assert settings.redis_url == "redis://file/0" and settings.effective_broker_url == "redis://file/0"
    assert settings.queue("export") == "x-export"


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("colour = 1\n")
    with pytest.raises(ValueError, match="colour"):
        load_settings({"CORIOLIS_CONFIG_FILE": str(conf)})
    with pytest.raises(ValueError, match="auth_strategy"):
        load_settings({"CORIOLIS_AUTH_STRATEGY": "trust-me"})
    with pytest.raises(ValueError):
        load_settings({"CORIOLIS_API_PORT": "seventy"})
