"""``coriolis transfer ...`` and ``coriolis schedule ...``."""

from __future__ import annotations

from typing import Any

import click

from coriolis_client.commands.base import Config, command
from coriolis_client.commands.inputs import json_or_file, key_values
from coriolis_client.commands.runs import environment_body, environment_options
from coriolis_client.output import show_list, show_one

COLUMNS = ("id", "scenario", "instances", "last_execution_status", "origin_endpoint_id",
           "destination_endpoint_id", "created_at")
SCHEDULE_COLUMNS = ("id", "schedule", "enabled", "expiration_date", "auto_deploy", "last_fired_for")
CRON = ("minute", "hour", "dom", "month", "dow")


@click.group("transfer")
def transfer() -> None:
    """Transfers: replicas of instances kept in sync by executions, deployed later."""


@command(transfer, "create")
@environment_options
@click.option("--scenario", type=click.Choice(["replica", "live_migration"]), default="replica")
@click.option("--clone-disks/--no-clone-disks", default=True)
def transfer_create(cfg: Config, scenario, clone_disks, **params):
    """Create a transfer (its first execution copies every disk)."""
    body = environment_body(cfg, params)
    origin, destination = body.pop("origin_endpoint_id"), body.pop("destination_endpoint_id")
    instances = body.pop("instances")
    created = cfg.client.transfers.create(origin, destination, instances, scenario=scenario,
                                          clone_disks=clone_disks, **body)
    show_one(created, cfg.fmt)


@command(transfer, "list")
def transfer_list(cfg: Config):
    """List transfers."""
    show_list(list(cfg.client.transfers.iter_all()), COLUMNS, cfg.fmt)


@command(transfer, "show")
@click.argument("transfer_id")
def transfer_show(cfg: Config, transfer_id):
    """Show a transfer with its executions and replica disks."""
    show_one(cfg.client.transfers.get(transfer_id), cfg.fmt)


@command(transfer, "update")
@click.argument("transfer_id")
@click.option("--network-map", "network_map", multiple=True, metavar="SRC=DST")
@click.option("--destination-env", default=None)
@click.option("--destination-env-file", default=None)
@click.option("--notes", default=None)
def transfer_update(cfg: Config, transfer_id, network_map, destination_env, destination_env_file, notes):
    """Change a transfer's network map, destination environment or notes."""
    fields: dict[str, Any] = {}
    if network_map:
        fields["network_map"] = key_values(network_map, "--network-map")
    env = json_or_file(destination_env, destination_env_file, "destination environment")
    if env is not None:
        fields["destination_environment"] = env
    if notes is not None:
        fields["notes"] = notes
    show_one(cfg.client.transfers.update(transfer_id, **fields), cfg.fmt)


@command(transfer, "delete-disks")
@click.argument("transfer_id")
def transfer_delete_disks(cfg: Config, transfer_id):
    """Delete the transfer's replica disks at the destination."""
    cfg.client.transfers.delete_disks(transfer_id)
    click.echo(f"deleted the replica disks of transfer {transfer_id}", err=True)


@command(transfer, "delete")
@click.argument("transfer_id")
def transfer_delete(cfg: Config, transfer_id):
    """Delete a transfer (no running execution, no replica disks left)."""
    cfg.client.transfers.delete(transfer_id)
    click.echo(f"deleted transfer {transfer_id}", err=True)


# ---- schedules --------------------------------------------------------------------------------

@click.group("schedule")
def schedule() -> None:
    """Cron schedules of a transfer's executions (an omitted field is a wildcard)."""


def _schedule_options(func):
    for name in reversed(CRON):
        func = click.option(f"--{name}", default=None, help=f"cron {name} field")(func)
    func = click.option("--enabled/--disabled", default=None)(func)
    func = click.option("--expires", default=None, help="ISO 8601 expiration date (with a UTC offset)")(func)
    func = click.option("--shutdown-instance/--no-shutdown-instance", default=None)(func)
    return click.option("--auto-deploy/--no-auto-deploy", default=None)(func)


def _schedule_fields(p: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    cron = {name: p[name] for name in CRON if p[name] is not None}
    if cron:
        fields["schedule"] = cron
    for key, opt in (("enabled", "enabled"), ("shutdown_instance", "shutdown_instance"),
                     ("auto_deploy", "auto_deploy"), ("expiration_date", "expires")):
        if p[opt] is not None:
            fields[key] = p[opt]
    return fields


@command(schedule, "create")
@click.argument("transfer_id")
@_schedule_options
def schedule_create(cfg: Config, transfer_id, **params):
    """Add a schedule to a transfer."""
    fields = _schedule_fields(params)
    cron = fields.pop("schedule", {})
    show_one(cfg.client.schedules.create(transfer_id, cron, **fields), cfg.fmt)


@command(schedule, "list")
@click.argument("transfer_id")
def schedule_list(cfg: Config, transfer_id):
    """List a transfer's schedules."""
    show_list(list(cfg.client.schedules.iter_all(transfer_id)), SCHEDULE_COLUMNS, cfg.fmt)


@command(schedule, "show")
@click.argument("transfer_id")
@click.argument("schedule_id")
def schedule_show(cfg: Config, transfer_id, schedule_id):
    """Show a schedule."""
    show_one(cfg.client.schedules.get(transfer_id, schedule_id), cfg.fmt)


@command(schedule, "update")
@click.argument("transfer_id")
@click.argument("schedule_id")
@_schedule_options
def schedule_update(cfg: Config, transfer_id, schedule_id, **params):
    """Change a schedule (only the options given)."""
    show_one(cfg.client.schedules.update(transfer_id, schedule_id, **_schedule_fields(params)), cfg.fmt)


@command(schedule, "delete")
@click.argument("transfer_id")
@click.argument("schedule_id")
def schedule_delete(cfg: Config, transfer_id, schedule_id):
    """Delete a schedule."""
    cfg.client.schedules.delete(transfer_id, schedule_id)
    click.echo(f"deleted schedule {schedule_id}", err=True)


GROUPS = (transfer, schedule)
