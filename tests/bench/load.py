"""HTTP load on the API: a keep-alive client, the burst of POSTs and the GET pollers."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """One request: what, how long, and its status (0: no response)."""

    kind: str
    ms: float
    status: int


class Client:
    """A keep-alive HTTP/1.1 connection to the API (one per thread).

    Every request carries ``X-Bench-Phase: <phase>``, which the API's access log records.
    """

    def __init__(self, port: int, phase: str = "", timeout: float = 30.0) -> None:
        self.port = port
        self.phase = phase
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, float]:
        """``(status, decoded body, milliseconds)``; status 0 when the connection failed twice."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"X-Bench-Phase": self.phase} if self.phase else {}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                self.close()  # the server closed an idle keep-alive connection: retry once on a new one
                if attempt:
                    return 0, None, (time.perf_counter() - start) * 1000
                continue
            ms = (time.perf_counter() - start) * 1000
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            try:
                decoded = json.loads(data) if data else None
            except ValueError:
                decoded = data.decode(errors="replace")
            return resp.status, decoded, ms
        return 0, None, 0.0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def migration_body(n: int, storage_dir: str) -> dict[str, Any]:
    """A stub migration of one instance with one disk of 1 or 2 MiB, to qcow2."""
    return {
        "migration": {
            "origin": {"type": "stub", "connection_info": {}},
            "destination": {
                "type": "stub",
                "connection_info": {"storage_dir": storage_dir},
                "target_environment": {"disk_format": "qcow2"},
            },
            "source_environment": {"disks": 1, "disk_size_mb": 1 + n % 2},
            "instances": [f"bench-vm-{n:04d}"],
        }
    }


@dataclass
class PostResult:
    ids: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0


def submit_all(port: int, project: str, count: int, threads: int, storage_dir: str, phase: str,
               on_created: list[str] | None = None) -> PostResult:
    """POST ``count`` migrations from ``threads`` threads at once; ``on_created`` sees each id as it comes."""
    result = PostResult()
    local = threading.local()
    lock = threading.Lock()

    def post(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(port, phase)
        status, body, ms = client.request("POST", f"/v1/{project}/migrations", migration_body(n, storage_dir))
        with lock:
            result.samples.append(Sample("post", ms, status))
            if status == 202 and isinstance(body, dict):
                mid = body["migration"]["id"]
                result.ids.append(mid)
                if on_created is not None:
                    on_created.append(mid)
            else:
                result.errors.append(f"POST #{n}: {status} {str(body)[:200]}")

    result.started = time.monotonic()
    with ThreadPoolExecutor(threads, thread_name_prefix="post") as pool:
        list(pool.map(post, range(count)))
    result.ended = time.monotonic()
    return result


class Pollers:
    """Threads that GET the list and single migrations (with tasks) until stopped or ``max_requests``."""

    def __init__(self, port: int, project: str, threads: int, max_requests: int, ids: list[str], phase: str,
                 interval: float = 0.0) -> None:
        """``interval``: seconds from one request's start to the next one's, per thread (0: back to back, so a
        faster API is asked more; above 0, the GETs offered do not depend on how fast the API answers)."""
        self.port = port
        self.interval = interval
        self.phase = phase
        self.project = project
        self.ids = ids  # grows while POSTs come back (list.append is atomic)
        self.max_requests = max_requests
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]
        self.started = 0.0
        self.ended = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        for t in self._threads:
            t.start()

    def join(self, timeout: float) -> None:
        """Wait until ``max_requests`` are done (or ``timeout``), then stop."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        self.ended = self.ended or time.monotonic()

    def _take(self) -> bool:
        with self._lock:
            if len(self.samples) >= self.max_requests:
                self.ended = self.ended or time.monotonic()
                return False
            return True

    def _run(self, n: int) -> None:
        client = Client(self.port, self.phase)
        rng = random.Random(n)
        turn = n
        next_at = time.monotonic()
        while not self._stop.is_set() and self._take():
            if self.interval:
                next_at += self.interval
                if self._stop.wait(max(0.0, next_at - self.interval - time.monotonic())):
                    break
            turn += 1
            if turn % 2 and self.ids:
                kind, path = "get_one", f"/v1/{self.project}/migrations/{rng.choice(self.ids)}"
            else:
                kind, path = "get_list", f"/v1/{self.project}/migrations?limit=50"
            status, body, ms = client.request("GET", path)
            with self._lock:
                self.samples.append(Sample(kind, ms, status))
                if status != 200:
                    self.errors.append(f"GET {path}: {status} {str(body)[:200]}")
        client.close()
