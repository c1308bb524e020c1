"""A real API (``coriolis api``: gunicorn) on a free port, over the session's real Celery workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import STATE_DIR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def api_url(workers) -> Iterator[str]:
    """The root URL of a gunicorn API sharing the workers' database, broker and staging area."""
    port = _free_port()
    env = {**workers.env, "CORIOLIS_API_HOST": "127.0.0.1", "CORIOLIS_API_PORT": str(port),
           "CORIOLIS_API_WORKERS": "1", "CORIOLIS_API_THREADS": "8"}
    log = open(STATE_DIR / "client-api.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "coriolis.cli", "api"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # a loaded host boots the gunicorn worker late
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the API did not start; see {STATE_DIR / 'client-api.log'}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture()
def cli_env(api_url, project) -> dict[str, str]:
    """The environment a user of the ``coriolis`` command would set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORIOLIS_", "OS_"))}
    return {**env, "CORIOLIS_URL": api_url, "CORIOLIS_PROJECT": project}


@pytest.fixture()
def dest_dir(tmp_path) -> Path:
    path = tmp_path / "destination"
    path.mkdir()
    return path
