"""Shared fixtures: real PostgreSQL and SQLite databases, real Redis, real Celery worker processes.

The environment is set before anything imports the Celery app, so this test process and the
workers it starts agree on the broker and on a queue prefix private to this run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN_ID = uuid.uuid4().hex[:8]
STATE_DIR = Path(tempfile.mkdtemp(prefix=f"coriolis-test-{RUN_ID}-"))
os.environ["CORIOLIS_REDIS_URL"] = os.environ.get("CORIOLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ["CORIOLIS_QUEUE_PREFIX"] = f"t{RUN_ID}-"
os.environ["CORIOLIS_STATE_DIR"] = str(STATE_DIR)
os.environ["CORIOLIS_CANCEL_WAIT_SECONDS"] = "20"
os.environ["CORIOLIS_PROGRESS_INTERVAL"] = "0.2"
# the operator's Windows toolkit (fakes built by the windows_toolkit fixture before a Windows guest is morphed)
WINDOWS_TOOLKIT = STATE_DIR / "windows-toolkit"
os.environ["CORIOLIS_VIRTIO_WIN"] = str(WINDOWS_TOOLKIT / "virtio-win")
os.environ["CORIOLIS_WINDOWS_FIRSTBOOT_SERVICE"] = str(WINDOWS_TOOLKIT / "virt-tools")
os.environ["CORIOLIS_CLOUDBASE_INIT_MSI"] = str(WINDOWS_TOOLKIT / "CloudbaseInitSetup_x64.msi")
os.environ["CORIOLIS_ENABLE_STUB_PROVIDER"] = "1"
os.environ["CORIOLIS_MAX_DISK_BYTES"] = str(512 << 30)  # below what a stub disk may declare (1 TiB)
# host directories local providers may name in tests: the run's state dir, pytest's tmp_path folders and
# the cached fixtures (tests of the confinement itself narrow this with settings.replace(local_paths=...))
TEST_LOCAL_ROOTS = (STATE_DIR / "library", Path(tempfile.gettempdir()), Path("/var/tmp/coriolis-fixtures"))
os.environ["CORIOLIS_LOCAL_PATHS"] = "*=" + ":".join(str(r) for r in TEST_LOCAL_ROOTS)
PG_ADMIN_URL = os.environ.get(
    "CORIOLIS_TEST_PG_URL", "postgresql+psycopg://coriolis:coriolis@127.0.0.1:5432/postgres"
)

from sqlalchemy import create_engine, text  # noqa: E402

from coriolis.config import Settings, load_settings  # noqa: E402
from coriolis.database.session import upgrade  # noqa: E402


def _create_pg_database() -> str:
    name = f"coriolis_test_{RUN_ID}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(url: str) -> None:
    from coriolis.database.session import get_engine

    get_engine(url).dispose()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = _create_pg_database()
    upgrade(url)
    yield url
    _drop_pg_database(url)


@pytest.fixture(scope="session")
def sqlite_url() -> str:
    url = f"sqlite:///{STATE_DIR / 'api-tests.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def make_settings(database_url: str, **extra) -> Settings:
    return load_settings().replace(database_url=database_url, **extra)


@pytest.fixture(scope="session")
def settings(db_url) -> Settings:
    return make_settings(db_url)


@pytest.fixture()
def client(settings):
    from coriolis_api.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture()
def project() -> str:
    """A fresh project per test, so listings see only that test's records."""
    return f"proj-{uuid.uuid4().hex[:10]}"


class WorkerFleet:
    """Real Celery worker processes, one per queue, on the run's private queues."""

    def __init__(self, database_url: str, staging_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        """``extra_env`` overrides the workers' environment (another broker, queue prefix, log format)."""
        from coriolis_tasks.pipeline import QUEUES

        self.settings = make_settings(database_url, staging_dir=str(staging_dir))
        self.env = {
            **os.environ,
            "CORIOLIS_DATABASE_URL": database_url,
            "CORIOLIS_STAGING_DIR": str(staging_dir),
            **(extra_env or {}),
        }
        self.logs = STATE_DIR / "worker-logs"
        self.logs.mkdir(exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        for queue in QUEUES:
            self.start(queue)

    def start(self, queue: str) -> None:
        log = open(self.logs / f"{queue}.log", "ab")
        argv = [sys.executable, "-m", "coriolis.cli", "worker", "-Q", queue, "-n", f"{queue}-{RUN_ID}", "-c", "2"]
        self.procs[queue] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:  # a loaded CI host starts 7 workers slowly
        from coriolis_tasks.app import celery_app

        wanted = {f"{q}-{RUN_ID}" for q in self.procs}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(timeout=1.0) or []
            seen = {name.split("@")[0] for reply in replies for name in reply}
            if wanted <= seen:
                return
            time.sleep(0.5)
        raise RuntimeError(f"workers not ready: {wanted - seen}; logs in {self.logs}")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def workers(pg_url) -> Iterator[WorkerFleet]:
    fleet = WorkerFleet(pg_url, STATE_DIR / "staging")
    try:
        fleet.wait_ready()
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="session")
def windows_toolkit() -> Path:
    """The fake virtio-win tree, service wrapper and cloudbase-init MSI the settings above name."""
    from tests.fixtures.windows.toolkit import build_msi, build_virtio_win, build_wrapper

    if not (WINDOWS_TOOLKIT / "virtio-win").exists():
        build_virtio_win(WINDOWS_TOOLKIT / "virtio-win")
        build_wrapper(WINDOWS_TOOLKIT / "virt-tools" / "rhsrvany.exe")
        build_msi(WINDOWS_TOOLKIT / "CloudbaseInitSetup_x64.msi")
    return WINDOWS_TOOLKIT


@pytest.fixture()
def live_client(workers):
    """An API client on the same database and staging area as the running workers."""
    from coriolis_api.app import create_app

    app = create_app(workers.settings)
    app.config["TESTING"] = True
    return app.test_client()


def pytest_sessionfinish(session, exitstatus):
    import redis

    client = redis.Redis.from_url(os.environ["CORIOLIS_REDIS_URL"])
    for key in client.scan_iter(f"t{RUN_ID}-*"):
        client.delete(key)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Files that boot or morph real guests (``slow``) come first, each file's tests kept together.

    ``make test`` runs whole files in two processes (``--dist loadfile``) in this order: the long files
    start at once and the short ones fill in behind them, instead of one long file starting last.
    """
    weight: dict[Path, int] = {}
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        weight[item.path] = weight.get(item.path, 0) + (100 if item.get_closest_marker("slow") else 1)
        first.setdefault(item.path, index)
    items.sort(key=lambda item: (-weight[item.path], first[item.path]))
