"""``coriolis migration ...``, ``coriolis execution ...`` and ``coriolis deployment ...``: runs with tasks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from coriolis_client.commands.base import Config, command
from coriolis_client.commands.inputs import json_or_file, key_values
from coriolis_client.output import show_list, show_one
from coriolis_client.watch import wait_run

RUN_COLUMNS = ("id", "status", "instances", "origin_endpoint_id", "destination_endpoint_id", "created_at")
EXECUTION_COLUMNS = ("id", "number", "status", "created_at", "finished_at")
DEPLOYMENT_COLUMNS = ("id", "transfer_id", "status", "test_deployment", "instances", "created_at")
HIDE = ("tasks",)


def wait_options(func: Callable) -> Callable:
    func = click.option("--timeout", type=float, default=None,
                        help="with --wait: stop waiting after this many seconds (exit 3)")(func)
    func = click.option("--quiet", "-q", is_flag=True, help="with --wait: no progress bars")(func)
    return click.option("--wait", is_flag=True,
                        help="follow the run with live progress; exit 0 completed, 1 error, 2 canceled, "
                             "3 timeout")(func)


def finish(cfg: Config, doc: dict[str, Any], fetch: Callable[[], dict], what: str, wait: bool,
           timeout: float | None, quiet: bool) -> None:
    """Print the run; with ``wait``, follow it first and exit with its outcome."""
    if not wait:
        show_one(doc, cfg.fmt, HIDE)
        return
    run, code = wait_run(fetch, what, timeout, show=not quiet)
    show_one(run, cfg.fmt, HIDE if cfg.fmt == "table" else ())
    sys.exit(code)


def environment_options(func: Callable) -> Callable:
    """The options migrations and transfers share: instances, maps and provider environments."""
    opts = [
        click.option("--origin-endpoint", required=True, help="source endpoint id or name"),
        click.option("--destination-endpoint", required=True, help="destination endpoint id or name"),
        click.option("--instance", "instances", multiple=True, required=True, help="a source instance (repeatable)"),
        click.option("--network-map", "network_map", multiple=True, metavar="SRC=DST",
                     help="map a source network to a destination network (repeatable)"),
        click.option("--source-env", default=None, help="source environment as JSON"),
        click.option("--source-env-file", default=None, help="source environment from a JSON/YAML file"),
        click.option("--destination-env", default=None, help="destination (target) environment as JSON"),
        click.option("--destination-env-file", default=None, help="destination environment from a JSON/YAML file"),
        click.option("--storage-default", default=None, help="default destination storage backend"),
        click.option("--storage-backend", "storage_backends", multiple=True, metavar="SRC=DST",
                     help="map a source storage backend to a destination one (repeatable)"),
        click.option("--notes", default=None),
        click.option("--skip-os-morphing", is_flag=True, default=False),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def environment_body(cfg: Config, p: dict[str, Any]) -> dict[str, Any]:
    """The request fields that :func:`environment_options` collected."""
    endpoints = cfg.client.endpoints
    body: dict[str, Any] = {
        "origin_endpoint_id": endpoints.find(p["origin_endpoint"])["id"],
        "destination_endpoint_id": endpoints.find(p["destination_endpoint"])["id"],
        "instances": list(p["instances"]),
        "network_map": key_values(p["network_map"], "--network-map"),
        "source_environment": json_or_file(p["source_env"], p["source_env_file"], "source environment") or {},
        "destination_environment": json_or_file(p["destination_env"], p["destination_env_file"],
                                                "destination environment") or {},
        "skip_os_morphing": p["skip_os_morphing"],
    }
    storage: dict[str, Any] = {}
    if p["storage_default"]:
        storage["default"] = p["storage_default"]
    if p["storage_backends"]:
        pairs = key_values(p["storage_backends"], "--storage-backend")
        storage["backend_mappings"] = [{"source": s, "destination": d} for s, d in pairs.items()]
    if storage:
        body["storage_mappings"] = storage
    if p["notes"] is not None:
        body["notes"] = p["notes"]
    return body


# ---- migrations -------------------------------------------------------------------------------

@click.group("migration")
def migration() -> None:
    """One-shot migrations: export, convert, morph, import and boot."""


@command(migration, "create")
@environment_options
@click.option("--shutdown-instances", is_flag=True, default=False)
@wait_options
def migration_create(cfg: Config, shutdown_instances, wait, quiet, timeout, **params):
    """Start a migration between two endpoints."""
    body = environment_body(cfg, params)
    instances = body.pop("instances")
    created = cfg.client.migrations.create(instances, shutdown_instances=shutdown_instances, **body)
    finish(cfg, created, lambda: cfg.client.migrations.get(created["id"]), f"migration {created['id']}",
           wait, timeout, quiet)


@command(migration, "list")
@click.option("--limit", type=int, default=None)
@click.option("--marker", default=None)
def migration_list(cfg: Config, limit, marker):
    """List migrations (every page unless --limit or --marker)."""
    mgr = cfg.client.migrations
    show_list(mgr.list(marker=marker, limit=limit) if limit or marker else list(mgr.iter_all()), RUN_COLUMNS, cfg.fmt)


@command(migration, "show")
@click.argument("migration_id")
@wait_options
def migration_show(cfg: Config, migration_id, wait, quiet, timeout):
    """Show a migration (tasks in JSON/YAML); with --wait, follow it to its end."""
    fetch = lambda: cfg.client.migrations.get(migration_id)  # noqa: E731
    doc = fetch()
    finish(cfg, doc, fetch, f"migration {migration_id}", wait, timeout, quiet)


@command(migration, "cancel")
@click.argument("migration_id")
@click.option("--force", is_flag=True, help="stop running tasks at once")
def migration_cancel(cfg: Config, migration_id, force):
    """Cancel a running migration."""
    cfg.client.migrations.cancel(migration_id, force)
    click.echo(f"cancelling migration {migration_id}", err=True)


@command(migration, "delete")
@click.argument("migration_id")
def migration_delete(cfg: Config, migration_id):
    """Delete a finished migration."""
    cfg.client.migrations.delete(migration_id)
    click.echo(f"deleted migration {migration_id}", err=True)


# ---- executions -------------------------------------------------------------------------------

@click.group("execution")
def execution() -> None:
    """Executions of a transfer: each syncs the replica disks."""


@command(execution, "create")
@click.argument("transfer_id")
@click.option("--shutdown-instances", is_flag=True, default=False)
@click.option("--auto-deploy", is_flag=True, default=False)
@wait_options
def execution_create(cfg: Config, transfer_id, shutdown_instances, auto_deploy, wait, quiet, timeout):
    """Start an execution of a transfer."""
    mgr = cfg.client.executions
    created = mgr.create(transfer_id, shutdown_instances, auto_deploy)
    finish(cfg, created, lambda: mgr.get(transfer_id, created["id"]), f"execution {created['id']}",
           wait, timeout, quiet)


@command(execution, "list")
@click.argument("transfer_id")
def execution_list(cfg: Config, transfer_id):
    """List a transfer's executions."""
    show_list(list(cfg.client.executions.iter_all(transfer_id)), EXECUTION_COLUMNS, cfg.fmt)


@command(execution, "show")
@click.argument("transfer_id")
@click.argument("execution_id")
@wait_options
def execution_show(cfg: Config, transfer_id, execution_id, wait, quiet, timeout):
    """Show an execution; with --wait, follow it to its end."""
    fetch = lambda: cfg.client.executions.get(transfer_id, execution_id)  # noqa: E731
    finish(cfg, fetch(), fetch, f"execution {execution_id}", wait, timeout, quiet)


@command(execution, "cancel")
@click.argument("transfer_id")
@click.argument("execution_id")
@click.option("--force", is_flag=True)
def execution_cancel(cfg: Config, transfer_id, execution_id, force):
    """Cancel a running execution."""
    cfg.client.executions.cancel(transfer_id, execution_id, force)
    click.echo(f"cancelling execution {execution_id}", err=True)


@command(execution, "delete")
@click.argument("transfer_id")
@click.argument("execution_id")
def execution_delete(cfg: Config, transfer_id, execution_id):
    """Delete a finished execution."""
    cfg.client.executions.delete(transfer_id, execution_id)
    click.echo(f"deleted execution {execution_id}", err=True)


# ---- deployments ------------------------------------------------------------------------------

@click.group("deployment")
def deployment() -> None:
    """Deployments: instances booted from a transfer's replica disks."""


@command(deployment, "create")
@click.argument("transfer_id")
@click.option("--force", is_flag=True, help="deploy even without a completed execution")
@click.option("--clone-disks/--no-clone-disks", default=True, help="keep the replica disks (default)")
@click.option("--test", "test_deployment", is_flag=True, help="a test deployment (deleting it removes the instance)")
@click.option("--skip-os-morphing", is_flag=True, default=None)
@wait_options
def deployment_create(cfg: Config, transfer_id, force, clone_disks, test_deployment, skip_os_morphing,
                      wait, quiet, timeout):
    """Deploy a transfer's instances."""
    fields: dict[str, Any] = {"force": force, "clone_disks": clone_disks, "test_deployment": test_deployment}
    if skip_os_morphing:
        fields["skip_os_morphing"] = True
    mgr = cfg.client.deployments
    created = mgr.create(transfer_id, **fields)
    finish(cfg, created, lambda: mgr.get(created["id"]), f"deployment {created['id']}", wait, timeout, quiet)


@command(deployment, "list")
def deployment_list(cfg: Config):
    """List deployments."""
    show_list(list(cfg.client.deployments.iter_all()), DEPLOYMENT_COLUMNS, cfg.fmt)


@command(deployment, "show")
@click.argument("deployment_id")
@wait_options
def deployment_show(cfg: Config, deployment_id, wait, quiet, timeout):
    """Show a deployment; with --wait, follow it to its end."""
    fetch = lambda: cfg.client.deployments.get(deployment_id)  # noqa: E731
    finish(cfg, fetch(), fetch, f"deployment {deployment_id}", wait, timeout, quiet)


@command(deployment, "cancel")
@click.argument("deployment_id")
@click.option("--force", is_flag=True)
def deployment_cancel(cfg: Config, deployment_id, force):
    """Cancel a running deployment."""
    cfg.client.deployments.cancel(deployment_id, force)
    click.echo(f"cancelling deployment {deployment_id}", err=True)


@command(deployment, "delete")
@click.argument("deployment_id")
def deployment_delete(cfg: Config, deployment_id):
    """Delete a finished deployment (a test deployment's instance with it)."""
    cfg.client.deployments.delete(deployment_id)
    click.echo(f"deleted deployment {deployment_id}", err=True)


GROUPS = (migration, execution, deployment)
