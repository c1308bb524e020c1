"""Settings, read once from ``CORIOLIS_*`` environment variables and an optional TOML file."""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _default_state_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/coriolis"
    return str(Path.home() / ".local" / "state" / "coriolis")


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default. The README's configuration table mirrors this.

    Each field ``name`` is read from the environment variable ``CORIOLIS_<NAME>`` or from
    the key ``name`` of the TOML file named by ``CORIOLIS_CONFIG_FILE``; the environment wins.
    """

    state_dir: str = field(default_factory=_default_state_dir)
    database_url: str = ""  # default: sqlite:///<state_dir>/coriolis.sqlite
    redis_url: str = ""  # empty: `coriolis all-in-one` starts an embedded Redis
    broker_url: str = ""  # default: redis_url
    result_backend: str = ""  # default: redis_url
    auth_strategy: str = "noauth"
    staging_dir: str = ""  # default: <state_dir>/staging
    api_host: str = "127.0.0.1"
    api_port: int = 7667
    api_workers: int = 2
    api_threads: int = 8
    max_request_bytes: int = 1 << 20
    page_limit_max: int = 1000
    queue_prefix: str = ""
    visibility_timeout: int = 6 * 3600
    cancel_wait_seconds: int = 60
    progress_interval: float = 0.5
    embedded_redis_port: int = 7668
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        state = Path(self.state_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{state / 'coriolis.sqlite'}")
        if not self.staging_dir:
            object.__setattr__(self, "staging_dir", str(state / "staging"))
        if self.auth_strategy not in ("noauth", "keystone"):
            raise ValueError(f"auth_strategy must be noauth or keystone, not {self.auth_strategy!r}")

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def effective_result_backend(self) -> str:
        return self.result_backend or self.redis_url

    def queue(self, name: str) -> str:
        """The broker queue name of a pool (``queue_prefix`` isolates test runs)."""
        return f"{self.queue_prefix}{name}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(value: Any, kind: type) -> Any:
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    return str(value)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from a TOML file (``CORIOLIS_CONFIG_FILE``) overlaid by the environment."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get("CORIOLIS_CONFIG_FILE")
    if config_file:
        with open(config_file, "rb") as fh:
            values.update(tomllib.load(fh))
    kinds = {f.name: f.type for f in dataclasses.fields(Settings)}
    unknown = set(values) - set(kinds)
    if unknown:
        raise ValueError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
    for name in kinds:
        key = f"CORIOLIS_{name.upper()}"
        if key in env:
            values[name] = env[key]
    types = {"int": int, "float": float, "str": str}
    return Settings(**{k: _coerce(v, types.get(str(kinds[k]), str)) for k, v in values.items()})


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
