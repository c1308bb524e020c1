"""Azure Resource Manager over plain HTTPS (a client-credentials token, PUT/GET/DELETE, polling) and the blob client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient, ContainerClient

from providers.azure.options import Connection
from providers.types import ProviderError, Reporter

TIMEOUT = 60


class Arm:
    """One subscription and resource group through ARM; every call goes through ``call``."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self.session = requests.Session()
        self._token: tuple[str, float] | None = None

    def _bearer(self) -> str:
        if self._token and self._token[1] > time.monotonic() + 60:
            return self._token[0]
        conn = self.conn
        url = f"{conn.authority}/{conn.tenant_id}/oauth2/v2.0/token"
        try:
            answer = self.session.post(url, timeout=TIMEOUT, data={
                "grant_type": "client_credentials", "client_id": conn.client_id,
                "client_secret": conn.client_secret, "scope": f"{conn.management}/.default"})
        except requests.RequestException as exc:
            raise ProviderError(f"Azure login at {conn.authority}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise ProviderError(f"Azure login refused ({answer.status_code}): {_message(answer)}")
        body = answer.json()
        self._token = (body["access_token"], time.monotonic() + float(body.get("expires_in", 3600)))
        return self._token[0]

    def path(self, provider_path: str) -> str:
        """``/subscriptions/<s>/resourceGroups/<rg>/providers/<provider_path>``."""
        return f"/subscriptions/{self.conn.subscription_id}/resourceGroups/{self.conn.resource_group}/providers/" \
               f"{provider_path}"

    def call(self, method: str, path: str, api: str, body: dict[str, Any] | None = None,
             missing_ok: bool = False) -> dict[str, Any] | None:
        """One ARM request (``api`` names the API group: compute, disks, network); None for a 404 when
        ``missing_ok``."""
        url = f"{self.conn.management}{path}"
        params = {"api-version": self.conn.api_versions[api]}
        try:
            answer = self.session.request(method, url, params=params, json=body, timeout=TIMEOUT,
                                          headers={"Authorization": f"Bearer {self._bearer()}"})
        except requests.RequestException as exc:
            raise ProviderError(f"{method} {path}: {type(exc).__name__}") from None
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code >= 400:
            raise ProviderError(f"{method} {path.rsplit('/providers/', 1)[-1]}: {answer.status_code} "
                                f"{_message(answer)}")
        return answer.json() if answer.content else {}

    def list(self, provider_path: str, api: str) -> list[dict[str, Any]]:
        """Every resource of a type in the resource group (following ``nextLink``)."""
        out: list[dict[str, Any]] = []
        page = self.call("GET", self.path(provider_path), api) or {}
        while True:
            out.extend(page.get("value", []))
            link = page.get("nextLink")
            if not link:
                return out
            page = self.call("GET", link.removeprefix(self.conn.management).split("?")[0], api) or {}

    def put(self, path: str, api: str, body: dict[str, Any], timeout: float, reporter: Reporter | None,
            what: str) -> dict[str, Any]:
        """PUT a resource and wait for its provisioning state to be ``Succeeded``."""
        self.call("PUT", path, api, body)
        return wait_until(lambda: self.call("GET", path, api, missing_ok=True),
                          lambda r: r.get("properties", {}).get("provisioningState") == "Succeeded",
                          lambda r: r.get("properties", {}).get("provisioningState") in ("Failed", "Canceled"),
                          timeout, reporter, what)

    def delete(self, path: str, api: str, timeout: float) -> None:
        """DELETE a resource and wait until it is gone; fine when it already is."""
        self.call("DELETE", path, api, missing_ok=True)
        deadline = time.monotonic() + timeout
        while self.call("GET", path, api, missing_ok=True) is not None:
            if time.monotonic() > deadline:
                raise ProviderError(f"{path.rsplit('/', 1)[-1]} still exists after {timeout} s")
            time.sleep(0.5)


def _message(answer: requests.Response) -> str:
    try:
        error = answer.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}"[:500]
    except ValueError:
        return answer.text[:200]


def wait_until(fetch: Callable[[], dict[str, Any] | None], ready: Callable[[dict[str, Any]], bool],
               failed: Callable[[dict[str, Any]], bool], timeout: float, reporter: Reporter | None,
               what: str) -> dict[str, Any]:
    deadline, interval = time.monotonic() + timeout, 0.3
    while True:
        item = fetch()
        if item is None:
            raise ProviderError(f"{what} disappeared")
        if ready(item):
            return item
        if failed(item):
            raise ProviderError(f"{what} failed: {item.get('properties', {}).get('provisioningState')}")
        if time.monotonic() > deadline:
            raise ProviderError(f"{what} not ready after {timeout} s")
        if reporter is not None:
            reporter.step(0, None, f"waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 5.0)


def container_client(connection: Connection, container: str) -> ContainerClient:
    """The blob container disks are uploaded through (created when missing)."""
    service = BlobServiceClient(connection.blob_url, credential={
        "account_name": connection.storage_account, "account_key": connection.storage_account_key})
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    return client
