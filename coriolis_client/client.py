"""The Python client: ``Client(base_url, project_id, token=None, keystone_session=None)``.

One manager per resource (``client.endpoints``, ``client.migrations``, ``client.transfers``,
``client.executions``, ``client.deployments``, ``client.schedules``, ``client.providers``). Calls
answer the API's documents as dicts, unwrapped from their resource name; errors raise the typed
exceptions of :mod:`coriolis_client.errors`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from coriolis_client import errors
from coriolis_client.pagination import iter_all

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
DEFAULT_URL = "http://127.0.0.1:7667"


def _q(value: str) -> str:
    return quote(str(value), safe="")


class Client:
    """A Coriolis API client for one project.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:7667``.
        project_id: the project in every ``/v1/<project_id>/`` path; with a Keystone session and
            no project, the session's project.
        token: a Keystone token sent as ``X-Auth-Token``.
        keystone_session: a ``keystoneauth1.session.Session``; its token is asked for each call
            (keystoneauth renews it) and renewed once after a 401.
        retries: how many times an idempotent call (GET/PUT/DELETE) is retried after a
            connection error or a 5xx; ``POST`` is never retried.
        backoff: the first wait between retries, in seconds; doubled each time (at most 8 s).
        timeout: seconds for each HTTP request.
    """

    def __init__(self, base_url: str = DEFAULT_URL, project_id: str | None = None, token: str | None = None,
                 keystone_session: Any = None, retries: int = 4, backoff: float = 0.5,
                 timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.keystone_session = keystone_session
        if project_id is None and keystone_session is not None:
            project_id = keystone_session.get_project_id()
        if not project_id:
            raise ValueError("a project id is needed (or a Keystone session scoped to a project)")
        self.project_id = project_id
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.http = requests.Session()
        self.endpoints = EndpointManager(self)
        self.providers = ProviderManager(self)
        self.migrations = MigrationManager(self)
        self.transfers = TransferManager(self)
        self.executions = ExecutionManager(self)
        self.deployments = DeploymentManager(self)
        self.schedules = ScheduleManager(self)

    def _headers(self, renew: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self.token
        if self.keystone_session is not None:
            if renew:
                self.keystone_session.invalidate()
            token = self.keystone_session.get_token()
        if token:
            headers["X-Auth-Token"] = token
        return headers

    def url(self, path: str) -> str:
        """The full URL of a path under ``/v1/<project_id>``."""
        return f"{self.base_url}/v1/{_q(self.project_id)}{path}"

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Send one call and answer its decoded JSON body (``None`` for 204).

        Idempotent methods are retried with exponential backoff on connection errors and 5xx.
        """
        method = method.upper()
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        params = {k: v for k, v in (params or {}).items() if v is not None and v != []}
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.http.request(method, self.url(path), json=body, params=params,
                                         headers=self._headers(renew=renewed), timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= attempts:
                    raise errors.ConnectionFailed(f"cannot reach {self.base_url}: {exc}") from exc
                self._sleep(attempt)
                continue
            if resp.status_code in RETRY_STATUSES and attempt < attempts:
                self._sleep(attempt)
                continue
            if resp.status_code == 401 and self.keystone_session is not None and not renewed:
                renewed = True
                continue
            return self._decode(resp)

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self.backoff * (2 ** (attempt - 1)), 8.0))

    @staticmethod
    def _decode(resp: requests.Response) -> Any:
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code >= 400:
            raise errors.error_from_response(resp.status_code, data, resp.text)
        return data

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


def _page_params(marker: str | None, limit: int | None, sort_key: list[str] | None,
                 sort_dir: list[str] | None) -> dict[str, Any]:
    return {"marker": marker, "limit": limit, "sort_key": sort_key or None, "sort_dir": sort_dir or None}


class _Manager:
    """Common calls of a resource at ``path`` whose documents are wrapped in ``singular``/``plural``."""

    singular = ""
    plural = ""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _list(self, base: str, marker: str | None = None, limit: int | None = None,
              sort_key: list[str] | None = None, sort_dir: list[str] | None = None,
              detail: bool = False) -> list[dict[str, Any]]:
        path = f"{base}/detail" if detail else base
        return self.client.get(path, **_page_params(marker, limit, sort_key, sort_dir))[self.plural]

    def _one(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = self.client.request(method, path, body=body)
        return data[self.singular]


class EndpointManager(_Manager):
    """``/endpoints``: CRUD, connection checks and the source's instances."""

    singular, plural = "endpoint", "endpoints"

    def list(self, marker: str | None = None, limit: int | None = None, sort_key: list[str] | None = None,
             sort_dir: list[str] | None = None) -> list[dict[str, Any]]:
        return self._list("/endpoints", marker, limit, sort_key, sort_dir)

    def iter_all(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return iter_all(lambda m, n: self.list(marker=m, limit=n), page_size)

    def get(self, endpoint_id: str) -> dict[str, Any]:
        return self._one("GET", f"/endpoints/{_q(endpoint_id)}")

    def find(self, name_or_id: str) -> dict[str, Any]:
        """The endpoint with this id, else the one with this name (NotFound when none, or several)."""
        matches = [e for e in self.iter_all() if name_or_id in (e["id"], e["name"])]
        by_id = [e for e in matches if e["id"] == name_or_id]
        if by_id or len(matches) == 1:
            return (by_id or matches)[0]
        reason = "several endpoints are named" if matches else "no endpoint is named"
        raise errors.NotFound(404, f"{reason} {name_or_id!r}", "itemNotFound")

    def create(self, name: str, type: str, connection_info: dict[str, Any] | None = None,
               description: str = "", mapped_regions: list[str] | None = None) -> dict[str, Any]:
        body = {"name": name, "type": type, "description": description,
                "connection_info": connection_info or {}, "mapped_regions": mapped_regions or []}
        return self._one("POST", "/endpoints", {"endpoint": body})

    def update(self, endpoint_id: str, **fields: Any) -> dict[str, Any]:
        return self._one("PUT", f"/endpoints/{_q(endpoint_id)}", {"endpoint": fields})

    def delete(self, endpoint_id: str) -> None:
        self.client.delete(f"/endpoints/{_q(endpoint_id)}")

    def validate(self, endpoint_id: str) -> dict[str, Any]:
        """Check the connection from a worker: ``{"valid": bool, "message": str}``."""
        data = self.client.post(f"/endpoints/{_q(endpoint_id)}/actions", {"validate-connection": None})
        return data["validate-connection"]

    def instances(self, endpoint_id: str, marker: str | None = None, limit: int | None = None,
                  name: str | None = None) -> list[dict[str, Any]]:
        params = {"marker": marker, "limit": limit, "name": name}
        return self.client.get(f"/endpoints/{_q(endpoint_id)}/instances", **params)["instances"]

    def iter_instances(self, endpoint_id: str, name: str | None = None, page_size: int = 100) -> Iterator[dict]:
        return iter_all(lambda m, n: self.instances(endpoint_id, m, n, name), page_size)

    def instance(self, endpoint_id: str, instance_id: str) -> dict[str, Any]:
        return self.client.get(f"/endpoints/{_q(endpoint_id)}/instances/{_q(instance_id)}")["instance"]

    @staticmethod
    def _env_params(env: dict[str, Any] | None) -> dict[str, Any]:
        return {"env": json.dumps(env, separators=(",", ":"))} if env else {}

    def networks(self, endpoint_id: str, env: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The endpoint's networks (for network maps); ``env``: provider environment options."""
        return self.client.get(f"/endpoints/{_q(endpoint_id)}/networks", **self._env_params(env))["networks"]

    def storage(self, endpoint_id: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
        """The endpoint's storage: ``{"storage_backends": [...], "config_default": ...}``."""
        return self.client.get(f"/endpoints/{_q(endpoint_id)}/storage", **self._env_params(env))["storage"]


class ProviderManager(_Manager):
    """``/providers``: types, abilities and option schemas."""

    def list(self) -> dict[str, Any]:
        return self.client.get("/providers")["providers"]

    def schema(self, provider_type: str, kind: str) -> dict[str, Any]:
        """The JSON schema of ``connection``, ``source`` or ``destination`` options."""
        schemas = self.client.get(f"/providers/{_q(provider_type)}/schemas/{_q(kind)}")["schemas"]
        return next(iter(schemas.values()))


class _RunManager(_Manager):
    """Runs that can be listed, shown, cancelled and deleted (migrations, deployments)."""

    def list(self, marker: str | None = None, limit: int | None = None, sort_key: list[str] | None = None,
             sort_dir: list[str] | None = None, detail: bool = False) -> list[dict[str, Any]]:
        return self._list(f"/{self.plural}", marker, limit, sort_key, sort_dir, detail)

    def iter_all(self, page_size: int = 100, detail: bool = False) -> Iterator[dict[str, Any]]:
        return iter_all(lambda m, n: self.list(marker=m, limit=n, detail=detail), page_size)

    def get(self, run_id: str) -> dict[str, Any]:
        return self._one("GET", f"/{self.plural}/{_q(run_id)}")

    def cancel(self, run_id: str, force: bool = False) -> None:
        self.client.post(f"/{self.plural}/{_q(run_id)}/actions", {"cancel": {"force": True} if force else None})

    def delete(self, run_id: str) -> None:
        self.client.delete(f"/{self.plural}/{_q(run_id)}")


class MigrationManager(_RunManager):
    """``/migrations``: one-shot migrations."""

    singular, plural = "migration", "migrations"

    def create(self, instances: list[str], origin_endpoint_id: str | None = None,
               destination_endpoint_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Start a migration; ``fields`` are the body's other keys (``network_map``, ``origin``...)."""
        body: dict[str, Any] = {"instances": list(instances), **fields}
        if origin_endpoint_id:
            body["origin_endpoint_id"] = origin_endpoint_id
        if destination_endpoint_id:
            body["destination_endpoint_id"] = destination_endpoint_id
        return self._one("POST", "/migrations", {"migration": body})


class DeploymentManager(_RunManager):
    """``/deployments``: instances created from a transfer's replica disks."""

    singular, plural = "deployment", "deployments"

    def create(self, transfer_id: str, **fields: Any) -> dict[str, Any]:
        """Deploy; ``fields``: ``clone_disks``, ``force``, ``skip_os_morphing``, ``user_scripts``..."""
        return self._one("POST", "/deployments", {"deployment": {"transfer_id": transfer_id, **fields}})


class TransferManager(_Manager):
    """``/transfers``: replicas of instances, synced by executions."""

    singular, plural = "transfer", "transfers"

    def list(self, marker: str | None = None, limit: int | None = None, sort_key: list[str] | None = None,
             sort_dir: list[str] | None = None) -> list[dict[str, Any]]:
        return self._list("/transfers", marker, limit, sort_key, sort_dir)

    def iter_all(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return iter_all(lambda m, n: self.list(marker=m, limit=n), page_size)

    def get(self, transfer_id: str) -> dict[str, Any]:
        return self._one("GET", f"/transfers/{_q(transfer_id)}")

    def create(self, origin_endpoint_id: str, destination_endpoint_id: str, instances: list[str],
               **fields: Any) -> dict[str, Any]:
        body = {"origin_endpoint_id": origin_endpoint_id, "destination_endpoint_id": destination_endpoint_id,
                "instances": list(instances), **fields}
        return self._one("POST", "/transfers", {"transfer": body})

    def update(self, transfer_id: str, **fields: Any) -> dict[str, Any]:
        return self._one("PUT", f"/transfers/{_q(transfer_id)}", {"transfer": fields})

    def delete(self, transfer_id: str) -> None:
        self.client.delete(f"/transfers/{_q(transfer_id)}")

    def delete_disks(self, transfer_id: str) -> None:
        self.client.post(f"/transfers/{_q(transfer_id)}/actions", {"delete-disks": None})


class ExecutionManager(_Manager):
    """``/transfers/<id>/executions``."""

    singular, plural = "execution", "executions"

    def list(self, transfer_id: str, marker: str | None = None, limit: int | None = None,
             detail: bool = False) -> list[dict[str, Any]]:
        return self._list(f"/transfers/{_q(transfer_id)}/executions", marker, limit, None, None, detail)

    def iter_all(self, transfer_id: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return iter_all(lambda m, n: self.list(transfer_id, marker=m, limit=n), page_size)

    def get(self, transfer_id: str, execution_id: str) -> dict[str, Any]:
        return self._one("GET", f"/transfers/{_q(transfer_id)}/executions/{_q(execution_id)}")

    def create(self, transfer_id: str, shutdown_instances: bool = False, auto_deploy: bool = False) -> dict:
        body = {"execution": {"shutdown_instances": shutdown_instances, "auto_deploy": auto_deploy}}
        return self._one("POST", f"/transfers/{_q(transfer_id)}/executions", body)

    def cancel(self, transfer_id: str, execution_id: str, force: bool = False) -> None:
        self.client.post(f"/transfers/{_q(transfer_id)}/executions/{_q(execution_id)}/actions",
                         {"cancel": {"force": True} if force else None})

    def delete(self, transfer_id: str, execution_id: str) -> None:
        self.client.delete(f"/transfers/{_q(transfer_id)}/executions/{_q(execution_id)}")


class ScheduleManager(_Manager):
    """``/transfers/<id>/schedules``: cron schedules of executions."""

    singular, plural = "schedule", "schedules"

    def list(self, transfer_id: str, marker: str | None = None, limit: int | None = None) -> list[dict]:
        return self._list(f"/transfers/{_q(transfer_id)}/schedules", marker, limit)

    def iter_all(self, transfer_id: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return iter_all(lambda m, n: self.list(transfer_id, marker=m, limit=n), page_size)

    def get(self, transfer_id: str, schedule_id: str) -> dict[str, Any]:
        return self._one("GET", f"/transfers/{_q(transfer_id)}/schedules/{_q(schedule_id)}")

    def create(self, transfer_id: str, schedule: dict[str, str], **fields: Any) -> dict[str, Any]:
        """``schedule``: cron fields (``minute``, ``hour``, ``dom``, ``month``, ``dow``); ``fields``:
        ``enabled``, ``expiration_date``, ``shutdown_instance``, ``auto_deploy``."""
        return self._one("POST", f"/transfers/{_q(transfer_id)}/schedules", {"schedule": schedule, **fields})

    def update(self, transfer_id: str, schedule_id: str, **fields: Any) -> dict[str, Any]:
        return self._one("PUT", f"/transfers/{_q(transfer_id)}/schedules/{_q(schedule_id)}", fields)

    def delete(self, transfer_id: str, schedule_id: str) -> None:
        self.client.delete(f"/transfers/{_q(transfer_id)}/schedules/{_q(schedule_id)}")
