"""What Celery and the database know of worker nodes: who answers now, and who ran tasks before."""

from __future__ import annotations

import platform
import socket
import sys
import uuid
from datetime import datetime
from importlib import metadata
from typing import Any

from sqlalchemy import func, select

from coriolis.database.models import Task

NAMESPACE = uuid.UUID("0b7f2f8e-4c2a-4f57-9a0c-6f3d2a1b9c11")
INSPECT_SECONDS = 2.0
PACKAGES = ("coriolis", "celery", "flask", "sqlalchemy", "kombu", "redis")


def service_id(node: str) -> str:
    """A stable id for a worker node name (``queue@host``)."""
    return str(uuid.uuid5(NAMESPACE, node))


def _live_queues(prefix: str) -> dict[str, list[str]]:
    from coriolis_tasks.app import celery_app

    answered = celery_app.control.inspect(timeout=INSPECT_SECONDS).active_queues() or {}
    return {
        node: sorted(q["name"].removeprefix(prefix) for q in queues if q["name"].startswith(prefix))
        for node, queues in answered.items()
    }


def services(session, queue_prefix: str) -> list[dict[str, Any]]:
    """Every worker node that answers now (``UP``, with its queues) or ran a task before and does not (``DOWN``).

    Only nodes consuming this deployment's queues (``queue_prefix``) are listed.
    """
    live = {n: q for n, q in _live_queues(queue_prefix).items() if q}
    seen: dict[str, datetime] = dict(
        session.execute(select(Task.host, func.max(Task.started_at)).where(Task.host.is_not(None))
                        .group_by(Task.host)).all()
    )
    out = []
    for node in sorted(set(live) | set(seen)):
        queues = live.get(node, [])
        out.append({
            "id": service_id(node),
            "host": node.split("@", 1)[-1],
            "binary": "coriolis-worker",
            "topic": ",".join(queues),
            "queues": queues,
            "status": "UP" if node in live else "DOWN",
            "enabled": True,
            "mapped_regions": [],
            "node": node,
            "created_at": None,
            "updated_at": seen.get(node),
        })
    return out


def diagnostics() -> dict[str, Any]:
    """The API host's diagnostic: application, hostname, addresses, OS and package versions."""
    hostname = socket.gethostname()
    try:
        addresses = sorted({a[4][0] for a in socket.getaddrinfo(hostname, None)})
    except OSError:
        addresses = []
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "application": "coriolis-api",
        "hostname": hostname,
        "ip_addresses": addresses,
        "os_info": {"system": platform.system(), "release": platform.release(), "python": sys.version.split()[0]},
        "packages": packages,
    }
