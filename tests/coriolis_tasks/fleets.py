"""Worker "nodes" as separate processes for fault drills: named workers, beat, the API over HTTP.

Each ``Fleet`` has its own queue prefix (and so its own queues) and its own database, so its
beat never fires another fleet's schedules. The test process's Celery app is bound to the
session's prefix, so a test talks to a fleet the way a user would: HTTP to its API process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, RUN_ID, STATE_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_database(name: str) -> Iterator[str]:
    """A PostgreSQL database of its own, schema up to date, dropped afterwards."""
    from coriolis.database.session import get_engine, upgrade

    db = f"coriolis_test_{RUN_ID}_{name}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db}"
    upgrade(url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal ``pid`` and everything it started (a whole machine's worth of that process dying)."""
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


class HttpClient:
    """The slice of Flask's test client the helpers use, over HTTP."""

    class Reply:
        def __init__(self, resp: requests.Response) -> None:
            self.status_code = resp.status_code
            self._resp = resp

        def get_json(self):
            return self._resp.json() if self._resp.content else None

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, path: str) -> HttpClient.Reply:
        return self.Reply(self.http.get(self.base + path, timeout=30))

    def post(self, path: str, json=None) -> HttpClient.Reply:
        return self.Reply(self.http.post(self.base + path, json=json, timeout=30))

    def delete(self, path: str) -> HttpClient.Reply:
        return self.Reply(self.http.delete(self.base + path, timeout=30))


class Fleet:
    """Named worker nodes (one process each), optionally beat and the API, on a private prefix."""

    def __init__(
        self, name: str, database_url: str, nodes: dict[str, tuple[str, int]], env: dict[str, str],
        supervise: bool = False,
    ):
        """``nodes``: node name -> (comma list of queues, concurrency); ``env``: extra settings.

        ``supervise``: a node or beat process that exits on its own is started again after
        ``RESTART_SECONDS``, as deploy/systemd (``Restart=on-failure``) and ``coriolis all-in-one`` do.
        """
        self.name = name
        self.dir = STATE_DIR / f"fleet-{name}"
        self.dir.mkdir(exist_ok=True)
        self.staging = self.dir / "staging"
        self.env = {
            **os.environ,
            "CORIOLIS_DATABASE_URL": database_url,
            "CORIOLIS_STAGING_DIR": str(self.staging),
            "CORIOLIS_STATE_DIR": str(self.dir),
            "CORIOLIS_QUEUE_PREFIX": f"{name}{RUN_ID}-",
            **env,
        }
        self.nodes = nodes
        self.procs: dict[str, subprocess.Popen] = {}
        self.api: HttpClient | None = None
        self.restarts: list[str] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        for node in nodes:
            self.start_node(node)
        if supervise:
            threading.Thread(target=self._supervise, name=f"fleet-{name}-supervisor", daemon=True).start()

    RESTART_SECONDS = 1.0

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for key, proc in list(self.procs.items()):
                if key == "api" or proc.poll() is None or self._stopping.is_set():
                    continue
                time.sleep(self.RESTART_SECONDS)
                with self._lock:
                    if self._stopping.is_set() or self.procs.get(key) is not proc:
                        continue
                    with open(self.dir / f"{key}.log", "ab") as log:
                        log.write(f"--- fleet: {key} exited with {proc.returncode}; restarting it ---\n".encode())
                    self.restarts.append(key)
                    if key == "beat":
                        self.start_beat()
                    else:
                        self.start_node(key)

    def node_name(self, node: str) -> str:
        return f"{node}-{RUN_ID}@{socket.gethostname()}"

    def _spawn(self, key: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.dir / f"{key}.log", "ab")
        self.procs[key] = subprocess.Popen(argv, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_node(self, node: str) -> None:
        queues, concurrency = self.nodes[node]
        argv = [sys.executable, "-m", "coriolis.cli", "worker", "-Q", queues, "-n", f"{node}-{RUN_ID}",
                "-c", str(concurrency)]
        self._spawn(node, argv)

    def start_beat(self) -> None:
        self._spawn("beat", [sys.executable, "-m", "coriolis.cli", "beat"])

    def start_api(self, port: int | None = None) -> HttpClient:
        port = port or free_port()
        env = {**self.env, "CORIOLIS_API_PORT": str(port), "CORIOLIS_API_WORKERS": "1"}
        self._spawn("api", [sys.executable, "-m", "coriolis.cli", "api"], env)
        client = HttpClient(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert self.procs["api"].poll() is None, f"the API exited; see {self.dir / 'api.log'}"
            assert time.monotonic() < deadline, "the API did not answer /health"
            time.sleep(0.3)
        self.api = client
        return client

    def stop_api(self) -> int:
        """Stop the API (SIGTERM, as a service manager would); its port, to start it again."""
        port = int(self.api.base.rsplit(":", 1)[1]) if self.api else 0
        proc = self.procs.pop("api")
        proc.terminate()
        proc.wait(30)
        return port

    def wait_ready(self, nodes: list[str] | None = None, timeout: float = 90) -> None:
        """Wait until each node answers a ping on the fleet's broker."""
        from celery import Celery

        probe = Celery("probe", broker=self.env.get("CORIOLIS_BROKER_URL") or self.env["CORIOLIS_REDIS_URL"])
        wanted = {self.node_name(n) for n in (nodes or self.nodes)}
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        try:
            while time.monotonic() < deadline:
                replies = probe.control.ping(destination=sorted(wanted), timeout=1.0) or []
                seen = {name for reply in replies for name in reply}
                if wanted <= seen:
                    return
                time.sleep(0.3)
        finally:
            probe.close()
        raise RuntimeError(f"nodes not ready: {wanted - seen}; logs in {self.dir}")

    def kill_node(self, node: str) -> None:
        """SIGKILL a node's main process and its pool children (a supervised fleet starts it again)."""
        proc = self.procs[node]
        kill_tree(proc.pid)
        proc.wait(10)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:  # a restart under way ends first; none starts after this
            pass
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
