"""Settings, read once from ``CORIOLIS_*`` environment variables and an optional TOML file."""

from __future__ import annotations

import base64
import binascii
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


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32 and len(key) == 44
    except (ValueError, binascii.Error):
        return False


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
    # added to each worker pool's niceness (and its session group's: coriolis/priority.py) when it starts,
    # so that the API answers at once while the pools are busy; 0 leaves the pools as started
    worker_niceness: int = 10
    max_request_bytes: int = 1 << 20
    page_limit_max: int = 1000
    queue_prefix: str = ""
    visibility_timeout: int = 6 * 3600
    cancel_wait_seconds: int = 60
    progress_interval: float = 0.5
    # a RUNNING task whose worker has not answered pings for this long (two checks at least) is failed
    lost_task_seconds: int = 60
    reaper_interval: float = 15.0  # seconds between beat's checks for lost tasks
    # a SCHEDULED task whose dependencies all completed this long ago and whose message is nowhere
    # in the broker is re-dispatched, with the rest of its instance's pipeline, by the same check
    stalled_seconds: int = 60
    max_parallel_reads_per_source: int = 4  # disk reads (export, replicate) at once from one source host
    # per-source overrides, "key=n,...": a key is a source host key (vsphere:<vcenter>:<port>/<esxi host>),
    # its part before "/" (every host behind one vCenter) or after it (one ESXi host by name)
    max_parallel_reads_by_source: str = ""
    read_slot_retry_seconds: float = 5.0  # how long a WAITING read waits before asking for a slot again
    embedded_redis_port: int = 7668
    log_level: str = "INFO"
    # hosts endpoints may name (providers/netpolicy.py): loopback, link-local, unspecified and multicast
    # addresses are refused unless allow_private_endpoints; cloud metadata addresses unless allowlisted
    allow_private_endpoints: bool = False
    endpoint_host_allowlist: str = ""  # comma-separated host names, addresses or CIDR networks always allowed
    # host directories local providers may name (providers/localpaths.py): "kind=/root[:/root],...",
    # "*" for every kind, "{project_id}" in a root for the project's own folder; unnamed kinds:
    # <state_dir>/library/<kind> only
    local_paths: str = ""
    enable_stub_provider: bool = False  # register the stub provider (tests and load tests only)
    # host programs and firmware the kvm destination uses: the operator's choice, never a tenant's
    kvm_qemu_binary: str = "qemu-system-x86_64"
    kvm_ovmf_code: str = "/usr/share/OVMF/OVMF_CODE.fd"
    kvm_ovmf_vars: str = "/usr/share/OVMF/OVMF_VARS.fd"
    # work bounded by the operator, not by what a tenant's source declares (coriolis/quotas.py); 0: no limit
    max_disk_bytes: int = 64 << 40  # a disk declaring more fails its run before any data moves
    max_active_runs_per_project: int = 500  # unfinished migrations, executions and deployments at once
    max_bytes_in_flight_per_project: int = 0  # declared disk bytes of a project's unfinished runs
    staging_reserve_bytes: int = 1 << 30  # free space a stage leaves in staging_dir beyond what it writes
    # connection info at rest and secrets by reference (coriolis/database/encrypted.py, coriolis/secrets/)
    encryption_keys: str = field(default="", repr=False)  # empty: a dev key in <state_dir>/encryption.key
    secret_backend: str = ""  # where a bare secret_id is looked up: barbican, vault or empty (none)
    barbican_url: str = ""  # empty: the key-manager endpoint of the Keystone catalog
    barbican_auth_url: str = ""  # Keystone v3 URL of the service user that reads secrets
    barbican_username: str = ""
    barbican_password: str = field(default="", repr=False)
    barbican_project_name: str = "service"
    barbican_user_domain: str = "Default"
    barbican_project_domain: str = "Default"
    vault_url: str = ""
    vault_token: str = field(default="", repr=False)
    vault_token_file: str = ""  # read at each lookup, so a rotated token is picked up
    vault_mount: str = "secret"  # the KV version 2 mount
    keystone_auth_url: str = ""  # Keystone v3 URL the API validates tokens against
    keystone_www_authenticate_uri: str = ""  # default: keystone_auth_url (sent in WWW-Authenticate)
    keystone_username: str = ""  # the service user that validates tokens
    keystone_password: str = field(default="", repr=False)
    keystone_project_name: str = "service"
    keystone_user_domain_id: str = "default"
    keystone_project_domain_id: str = "default"
    keystone_token_cache_time: int = 300  # seconds a validated token is cached; -1: never cache
    keystone_trust_hours: int = 168  # a caller-identity run's Keystone trust expires after this; 0: never
    policy_file: str = ""  # JSON or YAML rules overriding the default access rules
    live_sync_max_passes: int = 3  # live_migration: sync passes while the source runs, at most
    live_sync_converged_bytes: int = 64 << 20  # ...stopping early once a pass writes no more than this
    log_format: str = "text"  # text for a terminal; json (one object per line) for collectors
    appliance_accel: str = "auto"  # morphing appliance: auto (probe KVM once per host boot), kvm or tcg
    appliance_timeout: int = 3600  # seconds a whole appliance session may take before it is killed
    appliance_launch_timeout: int = 600  # seconds one appliance launch may take; then it is killed and tried again
    appliance_cache_dir: str = "/var/tmp/coriolis-appliance"  # supermin's appliance, shared by a host's workers
    # Windows guests (morphing/fixers/windows.py): what the operator supplies, never a tenant
    virtio_win: str = "/usr/share/virtio-win"  # the virtio-win ISO or unpacked directory
    windows_firstboot_service: str = "/usr/share/virt-tools"  # rhsrvany.exe/pvvxsvc.exe, or a folder with one
    cloudbase_init_msi: str = ""  # CloudbaseInitSetup_x64.msi, installed at first boot for metadata clouds

    def __post_init__(self) -> None:
        state = Path(self.state_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{state / 'coriolis.sqlite'}")
        if not self.staging_dir:
            object.__setattr__(self, "staging_dir", str(state / "staging"))
        if self.auth_strategy not in ("noauth", "keystone"):
            raise ValueError(f"auth_strategy must be noauth or keystone, not {self.auth_strategy!r}")
        for n, key in enumerate([k for k in self.encryption_keys.split(",") if k.strip()], start=1):
            if not _is_fernet_key(key.strip()):
                raise ValueError(f"encryption_keys: key #{n} is not a Fernet key (32 url-safe base64-encoded bytes)")
        if not 0 <= self.worker_niceness <= 19:
            raise ValueError(f"worker_niceness must be 0..19 (added to the niceness), not {self.worker_niceness}")
        if self.appliance_accel not in ("auto", "kvm", "tcg"):
            raise ValueError(f"appliance_accel must be auto, kvm or tcg, not {self.appliance_accel!r}")
        from providers.localpaths import parse_roots

        parse_roots(self.local_paths, str(state))  # raises ValueError naming a malformed entry
        if self.secret_backend not in ("", "barbican", "vault"):
            raise ValueError(f"secret_backend must be barbican, vault or empty, not {self.secret_backend!r}")

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
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            raise ValueError(f"not a boolean: {value!r}")
        return str(value).strip().lower() in ("1", "true", "yes", "on")
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
    types = {"int": int, "float": float, "str": str, "bool": bool}
    return Settings(**{k: _coerce(v, types.get(str(kinds[k]), str)) for k, v in values.items()})


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
