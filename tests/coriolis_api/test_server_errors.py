"""Errors of the real server (``coriolis api``: gunicorn), including those gunicorn answers before Flask
sees the request, are JSON in the API's format; 405 names the allowed methods."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import STATE_DIR
from tests.fixtures.keystone import free_port


@pytest.fixture(scope="module")
def server(sqlite_url) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "CORIOLIS_DATABASE_URL": sqlite_url, "CORIOLIS_API_HOST": "127.0.0.1",
           "CORIOLIS_API_PORT": str(port), "CORIOLIS_API_WORKERS": "1", "CORIOLIS_API_THREADS": "2"}
    log = open(STATE_DIR / "server-errors-api.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "coriolis.cli", "api"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            if _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the API did not start; see {STATE_DIR / 'server-errors-api.log'}")
        time.sleep(0.3)
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is (no client library trims it) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _assert_json_error(answer, code: int, fault: str) -> dict:
    status, headers, body = answer
    assert status == code, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] == code and error["fault"] == fault and error["message"]
    return error


def test_a_url_too_long_is_a_json_414(server) -> None:
    path = "/v1/p/migrations?marker=" + "a" * 9000
    error = _assert_json_error(_raw(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), 414, "overLimit")
    assert "URL is too long" in error["message"]


@pytest.mark.parametrize("headers", [
    "X-Big: " + "b" * 9000 + "\r\n",  # one header over limit_request_field_size
    "".join(f"X-H{n}: v\r\n" for n in range(150)),  # more headers than limit_request_fields
], ids=["long-header", "many-headers"])
def test_headers_too_large_are_a_json_431(server, headers) -> None:
    answer = _raw(server, f"GET /v1/p/migrations HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    _assert_json_error(answer, 431, "overLimit")


def test_a_malformed_request_line_is_a_json_400(server) -> None:
    _assert_json_error(_raw(server, b"GET /\x01bad HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "badRequest")


def test_a_wrong_method_is_a_json_405_with_allow(server) -> None:
    answer = _raw(server, b"DELETE /v1/p/migrations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _assert_json_error(answer, 405, "badMethod")
    assert set(answer[1]["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "DELETE" not in answer[1]["allow"]


def test_an_unknown_route_is_a_json_404(server) -> None:
    answer = _raw(server, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _assert_json_error(answer, 404, "itemNotFound")
