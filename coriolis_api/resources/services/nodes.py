"""What Celery and the database know of worker nodes: who answers now, and who ran tasks before."""

from __future__ import annotations

import platform
import socket
import sys
import uuid
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from sqlalchemy import func, select

from coriolis.database.models import Task, utcnow

NAMESPACE = uuid.UUID("0b7f2f8e-4c2a-4f57-9a0c-6f3d2a1b9c11")
INSPECT_SECONDS = 2.0
PACKAGES = ("coriolis", "celery", "flask", "sqlalchemy", "kombu", "redis")


def service_id(node: str) -> str:
    """A stable id for a worker node name (``queue@host``)."""
    return str(uuid.uuid5(NAMESPACE, node))


def _live_queues(prefix: str) -> dict[str, list[str]]:
    from coriolis_tasks.broadcast import inspector

    with inspector(INSPECT_SECONDS) as inspect:
        answered = inspect.active_queues() or {}
    return {
        node: sorted(q["name"].removeprefix(prefix) for q in queues if q["name"].startswith(prefix))
        for node, queues in answered.items()
    }


def services(session, queue_prefix: str) -> list[dict[str, Any]]:
    """Every worker node that answers now (``UP``, with its queues) or ran a task before and does not (``DOWN``).

    Only nodes consuming this deployment's queues (``queue_prefix``) are listed. Times are ISO 8601 (UTC) and never
    null (python-coriolisclient sorts the list by ``created_at``): ``created_at`` is when the node first ran a task,
    ``updated_at`` when it last did; for an ``UP`` node ``updated_at`` is now (it answered), and so is
    ``created_at`` when it has run no task yet.
    """
    live = {n: q for n, q in _live_queues(queue_prefix).items() if q}
    now = utcnow()
    seen: dict[str, tuple[datetime | None, datetime | None]] = {
        host: (first, last)
        for host, first, last in session.execute(
            select(Task.host, func.min(Task.started_at), func.max(Task.started_at))
            .where(Task.host.is_not(None)).group_by(Task.host)
        ).all()
    }
    out = []
    for node in sorted(set(live) | set(seen)):
        queues = live.get(node, [])
        first, last = seen.get(node, (None, None))
        updated = now if node in live else (last or first or now)
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
            "created_at": _iso(first or updated),
            "updated_at": _iso(updated),
        })
    return out


def _iso(moment: datetime) -> str:
    """As the other resources show times: naive UTC in ISO 8601 (a JSON encoder would write RFC 822)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


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
