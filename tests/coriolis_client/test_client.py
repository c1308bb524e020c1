"""The Python client: typed errors from the real API, marker pagination, retries of idempotent calls only."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coriolis_client import BadRequest, Client, Conflict, ConnectionFailed, NotFound, ServerError, iter_all


def test_typed_errors_carry_the_api_message(api_url, project, dest_dir):
    client = Client(api_url, project)
    with pytest.raises(NotFound) as missing:
        client.endpoints.get("00000000-0000-0000-0000-000000000000")
    assert missing.value.code == 404 and missing.value.fault == "itemNotFound"
    assert "not found" in missing.value.message
    with pytest.raises(BadRequest) as bad:
        client.endpoints.create("x", "stub", {"no_such_option": 1})
    assert bad.value.fault == "badRequest" and "no_such_option" in bad.value.message
    with pytest.raises(BadRequest):
        client.migrations.create([], "00000000-0000-0000-0000-000000000000")
    src = client.endpoints.create("src", "stub")
    dst = client.endpoints.create("dst", "stub", {"storage_dir": str(dest_dir)})
    slow = client.migrations.create(["v"], src["id"], dst["id"],
                                    source_environment={"disk_size_mb": 64, "data_fraction": 1.0, "rate_mbps": 2})
    with pytest.raises(Conflict) as busy:
        client.migrations.delete(slow["id"])
    assert busy.value.code == 409
    client.migrations.cancel(slow["id"], force=True)


def test_iter_all_walks_every_page_once(api_url, project):
    client = Client(api_url, project)
    made = {client.endpoints.create(f"e{n}", "stub")["id"] for n in range(7)}
    pages = []

    def fetch(marker, limit):
        page = client.endpoints.list(marker=marker, limit=limit)
        pages.append(len(page))
        return page

    walked = [e["id"] for e in iter_all(fetch, page_size=3)]
    assert sorted(walked) == sorted(made) and len(walked) == 7
    assert pages == [3, 3, 1]
    assert [e["id"] for e in client.endpoints.iter_all(page_size=2)] == walked
    assert client.endpoints.find("e3")["name"] == "e3"


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests: a stand-in for an overloaded API (no emulator
    makes the real API answer 503 on demand), used only to count the client's retries."""

    failures = 2
    seen: list[tuple[str, str | None]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.headers.get("X-Auth-Token")))
        if len(self.seen) <= self.failures:
            body, code = {"error": {"code": 503, "message": "busy", "fault": "serviceUnavailable"}}, 503
        else:
            body, code = {"endpoints": []}, 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def flaky():
    _Flaky.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_is_retried_on_5xx_and_post_is_not(flaky):
    client = Client(flaky, "p1", token="tok-1", backoff=0.01)
    assert client.endpoints.list() == []
    assert _Flaky.seen == [("GET", "tok-1")] * 3
    _Flaky.seen = []
    with pytest.raises(ServerError) as err:
        client.endpoints.validate("00000000-0000-0000-0000-000000000000")
    assert err.value.code == 503 and err.value.message == "busy"
    assert [m for m, _ in _Flaky.seen] == ["POST"]


def test_connection_errors_are_retried_then_raised():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", "p1", retries=2, backoff=0.01, timeout=2)
    with pytest.raises(ConnectionFailed):
        client.endpoints.list()
    with pytest.raises(ConnectionFailed):
        client.migrations.cancel("x")


def test_the_coriolis_command_serves_both_halves(api_url, project):
    """The console script's service commands still parse; client commands reach the API over HTTP."""
    help_text = subprocess.run([sys.executable, "-m", "coriolis.cli", "--help"], capture_output=True, text=True,
                               check=True).stdout
    assert "all-in-one" in help_text and "client commands" in help_text and "batch" in help_text
    worker_help = subprocess.run([sys.executable, "-m", "coriolis.cli", "worker", "--help"], capture_output=True,
                                 text=True, check=True).stdout
    assert "--queues" in worker_help
    env = {"PATH": "/usr/bin:/bin", "CORIOLIS_URL": api_url, "CORIOLIS_PROJECT": project}
    made = subprocess.run([sys.executable, "-m", "coriolis.cli", "endpoint", "create", "--name", "cli", "--type",
                           "stub", "-f", "json"], capture_output=True, text=True, env=env, check=True)
    listed = subprocess.run([sys.executable, "-m", "coriolis.cli", "--format", "json", "endpoint", "list"],
                            capture_output=True, text=True, env=env, check=True)
    assert [e["id"] for e in json.loads(listed.stdout)] == [json.loads(made.stdout)["id"]]
    missing = subprocess.run([sys.executable, "-m", "coriolis.cli", "endpoint", "show", "nope"],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "no endpoint is named 'nope'" in missing.stderr
    unset = subprocess.run([sys.executable, "-m", "coriolis.cli", "endpoint", "list"], capture_output=True,
                           text=True, env={"PATH": "/usr/bin:/bin"})
    assert unset.returncode == 2 and "CORIOLIS_PROJECT" in unset.stderr
