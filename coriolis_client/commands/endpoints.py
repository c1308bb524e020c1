"""``coriolis endpoint ...`` and ``coriolis provider ...``."""

from __future__ import annotations

import json

import click

from coriolis_client.commands.base import Config, command
from coriolis_client.commands.inputs import connection_info, read_document
from coriolis_client.output import show_list, show_one, show_value

COLUMNS = ("id", "name", "type", "description", "created_at")
INSTANCE_COLUMNS = ("id", "name", "num_cpu", "memory_mb", "os_type")
NETWORK_COLUMNS = ("id", "name", "type", "vlan_id")
STORAGE_COLUMNS = ("id", "name", "type", "capacity_bytes", "free_bytes")


@click.group("endpoint")
def endpoint() -> None:
    """Endpoints: the clouds and hypervisors VMs move between."""


@command(endpoint, "create")
@click.option("--name", help="endpoint name")
@click.option("--type", "ptype", help="provider type (see `coriolis provider list`)")
@click.option("--description", default=None)
@click.option("--region", "regions", multiple=True, help="a mapped region (repeatable)")
@click.option("--connection-info-file", default=None, help="JSON/YAML file holding the connection info ('-': stdin)")
@click.option("--connection-info-env", default=None, metavar="VAR",
              help="environment variable holding the connection info as JSON")
@click.option("--from-file", "from_file", default=None,
              help="JSON/YAML file with name, type, description, connection_info, mapped_regions; flags override")
def create(cfg: Config, name, ptype, description, regions, connection_info_file, connection_info_env, from_file):
    """Create an endpoint. Secrets come from a file or the environment and are never printed."""
    doc = read_document(from_file, "endpoint") if from_file else {}
    doc = doc.get("endpoint", doc)
    info = connection_info(connection_info_file, connection_info_env)
    name, ptype = name or doc.get("name"), ptype or doc.get("type")
    if not name or not ptype:
        raise click.UsageError("an endpoint needs --name and --type (or a --from-file holding them)")
    created = cfg.client.endpoints.create(
        name, ptype, info if info is not None else doc.get("connection_info") or {},
        description if description is not None else doc.get("description", ""),
        list(regions) or doc.get("mapped_regions") or [],
    )
    show_one(created, cfg.fmt)


@command(endpoint, "list")
@click.option("--limit", type=int, default=None, help="at most this many (default: all, page by page)")
@click.option("--marker", default=None, help="start after this endpoint id")
def list_(cfg: Config, limit, marker):
    """List endpoints."""
    mgr = cfg.client.endpoints
    rows = mgr.list(marker=marker, limit=limit) if limit or marker else list(mgr.iter_all())
    show_list(rows, COLUMNS, cfg.fmt)


@command(endpoint, "show")
@click.argument("endpoint_ref")
def show(cfg: Config, endpoint_ref):
    """Show an endpoint (by id or name); its connection info is redacted by the API."""
    show_one(cfg.client.endpoints.find(endpoint_ref), cfg.fmt)


@command(endpoint, "update")
@click.argument("endpoint_ref")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--connection-info-file", default=None)
@click.option("--connection-info-env", default=None, metavar="VAR")
def update(cfg: Config, endpoint_ref, name, description, connection_info_file, connection_info_env):
    """Change an endpoint's name, description or connection info."""
    fields = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
    info = connection_info(connection_info_file, connection_info_env)
    if info is not None:
        fields["connection_info"] = info
    ident = cfg.client.endpoints.find(endpoint_ref)["id"]
    show_one(cfg.client.endpoints.update(ident, **fields), cfg.fmt)


@command(endpoint, "validate")
@click.argument("endpoint_ref")
def validate(cfg: Config, endpoint_ref):
    """Check an endpoint's connection from a worker; exit 1 when it is not valid."""
    result = cfg.client.endpoints.validate(cfg.client.endpoints.find(endpoint_ref)["id"])
    show_value(result, cfg.fmt)
    if not result.get("valid"):
        raise SystemExit(1)


@command(endpoint, "delete")
@click.argument("endpoint_ref")
def delete(cfg: Config, endpoint_ref):
    """Delete an endpoint no unfinished migration uses."""
    ident = cfg.client.endpoints.find(endpoint_ref)["id"]
    cfg.client.endpoints.delete(ident)
    click.echo(f"deleted endpoint {ident}", err=True)


@command(endpoint, "instances")
@click.argument("endpoint_ref")
@click.option("--name", "name_filter", default=None, help="only instances whose name contains this")
@click.option("--limit", type=int, default=None, help="a page of at most this many")
@click.option("--marker", default=None, help="the page after this instance id")
@click.option("--all", "walk", is_flag=True, help="walk every page (page size --limit or 100)")
def instances(cfg: Config, endpoint_ref, name_filter, limit, marker, walk):
    """List a source endpoint's instances, a page at a time (or every page with --all)."""
    mgr = cfg.client.endpoints
    ident = mgr.find(endpoint_ref)["id"]
    if walk:
        rows = list(mgr.iter_instances(ident, name_filter, page_size=limit or 100))
    else:
        rows = mgr.instances(ident, marker, limit, name_filter)
    show_list(rows, INSTANCE_COLUMNS, cfg.fmt)


@command(endpoint, "instance")
@click.argument("endpoint_ref")
@click.argument("instance_id")
def instance(cfg: Config, endpoint_ref, instance_id):
    """Show one instance of a source endpoint with its devices."""
    mgr = cfg.client.endpoints
    show_one(mgr.instance(mgr.find(endpoint_ref)["id"], instance_id), cfg.fmt)


def _env_option(func):
    return click.option("--env", "env_text", default=None, metavar="JSON",
                        help="provider environment options as a JSON object")(func)


def _env(env_text: str | None) -> dict | None:
    if env_text is None:
        return None
    try:
        value = json.loads(env_text)
    except ValueError:
        raise click.UsageError("--env must be a JSON object") from None
    if not isinstance(value, dict):
        raise click.UsageError("--env must be a JSON object")
    return value


@command(endpoint, "networks")
@click.argument("endpoint_ref")
@_env_option
def networks(cfg: Config, endpoint_ref, env_text):
    """List an endpoint's networks (the names a network map uses)."""
    mgr = cfg.client.endpoints
    show_list(mgr.networks(mgr.find(endpoint_ref)["id"], _env(env_text)), NETWORK_COLUMNS, cfg.fmt)


@command(endpoint, "storage")
@click.argument("endpoint_ref")
@_env_option
def storage(cfg: Config, endpoint_ref, env_text):
    """List an endpoint's storage backends (the names storage mappings use)."""
    mgr = cfg.client.endpoints
    found = mgr.storage(mgr.find(endpoint_ref)["id"], _env(env_text))
    # what the provider adds (capacity, free space) comes under upstream's additional_provider_properties
    rows = [{**(b.get("additional_provider_properties") or {}), "id": b["id"], "name": b["name"]}
            for b in found["storage_backends"]]
    show_list(rows, STORAGE_COLUMNS, cfg.fmt)


@click.group("provider")
def provider() -> None:
    """Provider types, their abilities and option schemas."""


@command(provider, "list")
def provider_list(cfg: Config):
    """List provider types and what each can be (source, destination)."""
    providers = cfg.client.providers.list()
    rows = [{"type": name, "abilities": ", ".join(p["abilities"]), "description": p["description"]}
            for name, p in sorted(providers.items())]
    show_list(rows, ("type", "abilities", "description"), cfg.fmt)


@command(provider, "schema")
@click.argument("provider_type")
@click.argument("kind", type=click.Choice(["connection", "source", "destination"]))
def provider_schema(cfg: Config, provider_type, kind):
    """Print the JSON schema of a provider's connection, source or destination options."""
    show_value(cfg.client.providers.schema(provider_type, kind), cfg.fmt)


GROUPS = (endpoint, provider)
