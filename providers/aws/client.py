"""The boto3 boundary of the aws provider: EC2 and EBS direct clients, errors turned into ProviderError."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from providers.aws import catalog
from providers.aws.options import Connection
from providers.naming import cleaned_name
from providers.types import ProviderError, Reporter

T = TypeVar("T")
MIGRATION_TAG = "coriolis_migration_id"
INSTANCE_TAG = "coriolis_instance"
SNAPSHOT = "ebs-snapshot:"
DISK_TAG = "coriolis_disk_id"
CHECKSUM_TAG = "coriolis_disk_checksum"
REPLICA_TAG = "coriolis_replica_transfer_id"


def safe_name(name: str) -> str:
    """``name`` reduced to what AMI names allow, with a short hash when characters were dropped."""
    return cleaned_name(name, r"[^A-Za-z0-9()\[\]./'@_-]+", max_length=100, min_length=3)


def error_text(exc: Exception) -> str:
    """What AWS said, without the request (never credentials)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{exc.operation_name}: {err.get('Code', '?')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn boto errors into ``ProviderError`` naming ``what`` failed."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise ProviderError(f"{what}: {error_text(exc)}") from None


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v[:255]} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or ()}


class Aws:
    """EC2 and EBS direct clients of one account and region; every call goes through here."""

    def __init__(self, connection: Connection, max_pool: int = 16) -> None:
        session = boto3.session.Session(
            aws_access_key_id=connection.access_key_id,
            aws_secret_access_key=connection.secret_access_key,
            aws_session_token=connection.session_token,
            region_name=connection.region_name,
        )
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=max_pool,
                        connect_timeout=20, read_timeout=120)
        kw: dict[str, Any] = {"config": config, "verify": connection.verify}
        if connection.endpoint_url:
            kw["endpoint_url"] = connection.endpoint_url
        self.region = connection.region_name
        self._catalog_key = (connection.endpoint_url or "", connection.region_name, connection.access_key_id)
        self.ec2 = session.client("ec2", **kw)
        self.ebs = session.client("ebs", **kw)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API call; raises ``ProviderError`` with AWS's message."""
        client = self.ec2 if service == "ec2" else self.ebs
        with translated(operation):
            return getattr(client, operation)(**params)

    def pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item under ``key`` of a paginated EC2 ``describe_*`` call."""
        out: list[dict[str, Any]] = []
        with translated(operation):
            for page in self.ec2.get_paginator(operation).paginate(**params):
                if key == "Instances":
                    out.extend(i for r in page.get("Reservations", []) for i in r.get("Instances", []))
                else:
                    out.extend(page.get(key, []))
        return out

    def instance_types(self) -> list[dict[str, Any]]:
        """Every instance type of the region (``describe_instance_types`` items), from ``catalog``."""
        return catalog.instance_types(self._catalog_key, lambda: self.pages("describe_instance_types", "InstanceTypes"))

    def tagged(self, operation: str, key: str, tags: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        """Resources of a ``describe_*`` call carrying every one of ``tags``."""
        filters = [{"Name": f"tag:{k}", "Values": [v[:255]]} for k, v in tags.items()]
        found = self.pages(operation, key, Filters=filters, **params)
        # the filter is the server's; checking again costs nothing and guards a lax emulator
        return [r for r in found if all(tag_dict(r.get("Tags")).get(k) == v[:255] for k, v in tags.items())]

    def snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        try:
            found = self.ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        except ClientError as exc:
            if error_code(exc) == "InvalidSnapshot.NotFound":
                return None
            raise ProviderError(f"describe_snapshots: {error_text(exc)}") from None
        return found[0] if found else None

    def volume(self, volume_id: str) -> dict[str, Any] | None:
        try:
            found = self.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
        except ClientError as exc:
            if error_code(exc) == "InvalidVolume.NotFound":
                return None
            raise ProviderError(f"describe_volumes: {error_text(exc)}") from None
        return found[0] if found else None

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        try:
            found = self.pages("describe_instances", "Instances", InstanceIds=[instance_id])
        except ProviderError as exc:
            if "InvalidInstanceID.NotFound" in str(exc):
                return None
            raise
        return found[0] if found else None

    def delete(self, operation: str, missing: tuple[str, ...], **params: Any) -> None:
        """A delete call that is fine when the resource is already gone."""
        try:
            getattr(self.ec2, operation)(**params)
        except ClientError as exc:
            if error_code(exc) not in missing:
                raise ProviderError(f"{operation}: {error_text(exc)}") from None


def wait_for(fetch: Callable[[], T | None], ready: Callable[[T], bool], failed: Callable[[T], bool],
             timeout: float, reporter: Reporter | None, what: str, interval: float = 0.5) -> T:
    """Poll ``fetch`` until ``ready``; ``ProviderError`` when it fails, vanishes or times out."""
    deadline = time.monotonic() + timeout
    while True:
        item = fetch()
        if item is None:
            raise ProviderError(f"{what} disappeared")
        if ready(item):
            return item
        if failed(item):
            raise ProviderError(f"{what} failed: {item.get('State') or item.get('StateMessage') or item}")
        if time.monotonic() > deadline:
            raise ProviderError(f"{what} not ready after {timeout} s")
        if reporter is not None:
            reporter.step(0, None, f"waiting for {what}")
        time.sleep(min(interval, 5.0))
        interval *= 1.5
