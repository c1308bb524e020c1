"""The Google boundary of the gcp provider: service-account credentials, Cloud Storage, the Compute REST API."""

from __future__ import annotations

import time
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.oauth2 import service_account

from providers.gcp.options import Connection
from providers.types import ProviderError, Reporter

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
TIMEOUT = 60


class Gcp:
    """Cloud Storage and Compute of one project and zone."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        try:
            self.credentials = service_account.Credentials.from_service_account_info(
                connection.service_account_key, scopes=SCOPES)
        except (ValueError, GoogleAuthError) as exc:
            raise ProviderError(f"service_account_key: {type(exc).__name__}") from None
        self.session = AuthorizedSession(self.credentials)
        options = ClientOptions(api_endpoint=connection.storage_endpoint) if connection.storage_endpoint else None
        self.storage = storage.Client(project=connection.project_id, credentials=self.credentials,
                                      client_options=options)

    def bucket(self) -> storage.Bucket:
        return self.storage.bucket(self.conn.bucket)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             missing_ok: bool = False, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """One Compute API call: ``path`` below ``projects/<project>/``."""
        url = f"{self.conn.compute}/projects/{self.conn.project_id}/{path}"
        try:
            answer = self.session.request(method, url, json=body, params=params, timeout=TIMEOUT)
        except (GoogleAuthError, OSError) as exc:
            raise ProviderError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code >= 400:
            try:
                message = answer.json().get("error", {}).get("message", "")
            except ValueError:
                message = answer.text[:200]
            raise ProviderError(f"{method} {path}: {answer.status_code} {message}")
        return answer.json() if answer.content else {}

    def items(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a Compute list (following ``nextPageToken``)."""
        out: list[dict[str, Any]] = []
        params = dict(params or {})
        while True:
            page = self.call("GET", path, params=params) or {}
            out.extend(page.get("items", []))
            if not page.get("nextPageToken"):
                return out
            params["pageToken"] = page["nextPageToken"]

    def wait(self, operation: dict[str, Any], timeout: float, reporter: Reporter | None, what: str) -> None:
        """Wait for a Compute operation to be ``DONE``; ``ProviderError`` with its error when it failed."""
        scope = f"zones/{self.conn.zone}/operations" if operation.get("zone") else "global/operations"
        deadline, interval = time.monotonic() + timeout, 0.3
        while operation.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise ProviderError(f"{what}: not done after {timeout} s")
            if reporter is not None:
                reporter.step(0, None, f"waiting for {what}")
            time.sleep(interval)
            interval = min(interval * 1.5, 5.0)
            operation = self.call("GET", f"{scope}/{operation['name']}") or {}
        errors = (operation.get("error") or {}).get("errors")
        if errors:
            raise ProviderError(f"{what}: {'; '.join(e.get('message', e.get('code', '?')) for e in errors)}")
