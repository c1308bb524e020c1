"""The openstack destination: disks to Glance images (or Cinder volumes), ports on mapped networks, a Nova server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from marshmallow import ValidationError

from providers.openstack import flavors as flavor_choice
from providers.openstack import inventory, lookup, polling, portgroups
from providers.openstack.client import Cloud, Port, Server
from providers.openstack.disks import DiskImports
from providers.openstack.networks import NewNetwork, PortPlan, plan_ports
from providers.openstack.options import TargetOptions, load_connection, load_target
from providers.openstack.servers import CINDER, boot_source, made_from, safe_name, watch_console
from providers.openstack.storage import named_volume_types
from providers.types import (
    BootResult,
    DiskRef,
    ImportedInstance,
    MigrationContext,
    ProviderError,
    Reporter,
    TargetProfile,
    VmInfo,
)

MIGRATION_KEY = "coriolis_migration_id"
INSTANCE_KEY = "coriolis_instance"
T = TypeVar("T")


class OpenStackImporter(DiskImports):
    """Creates, in one project of an OpenStack cloud, what a migrated instance needs; deletes it on failure."""

    def __init__(self, connection_info: dict[str, Any], options: TargetOptions) -> None:
        self._connection_info = connection_info
        self.options = options
        self._cloud: Cloud | None = None

    @property
    def cloud(self) -> Cloud:
        """The cloud connection; the connection info is checked here (the API checked it already)."""
        if self._cloud is None:
            try:
                self._cloud = Cloud(load_connection(self._connection_info))
            except ValidationError as exc:
                raise ProviderError(f"connection_info: {exc.messages}") from None
        return self._cloud

    def tags(self, ctx: MigrationContext) -> dict[str, str]:
        """The metadata every resource of this migration's instance carries."""
        return {MIGRATION_KEY: ctx.migration_id, INSTANCE_KEY: ctx.instance[:255]}

    def server_name(self, ctx: MigrationContext) -> str:
        """coriolis-<migration>-<instance>: the server's name, and the prefix of its other resources."""
        return safe_name(ctx.resource_name(ctx.instance))

    def _mine(self, ctx: MigrationContext, metadata: dict[str, Any]) -> bool:
        return metadata.get(MIGRATION_KEY) == ctx.migration_id and metadata.get(INSTANCE_KEY) == ctx.instance[:255]

    def _port_description(self, ctx: MigrationContext) -> str:
        return f"{MIGRATION_KEY}={ctx.migration_id} {INSTANCE_KEY}={ctx.instance}"[:255]

    def validate(self) -> None:
        """Log in, check the catalog's endpoints, the flavor, the mapped networks, security groups, key pair."""
        cloud = self.cloud
        volume_types = named_volume_types(self.options.storage_mappings)
        volumes = self.options.boot_from_volume or bool(volume_types)
        cloud.check_catalog(("image", "compute", "network") + (("block-storage",) if volumes else ()))
        if self.options.flavor_name:
            flavor_choice.by_name(cloud.flavors(), self.options.flavor_name)
        for network in {n for n in self.options.network_map.values() if isinstance(n, str)}:
            cloud.network_id(network)
        if volume_types:
            known = cloud.volume_types()
            names = {t.name for t in known} | {t.id for t in known}
            missing = sorted(volume_types - names)
            if missing:
                raise ProviderError(f"storage_mappings: volume type(s) {', '.join(missing)} do not exist "
                                    f"(known: {', '.join(sorted(t.name for t in known)) or 'none'})")
        for group in self.options.security_groups:
            cloud.security_group_id(group)
        if self.options.key_name and not cloud.keypair_exists(self.options.key_name):
            raise ProviderError(f"key pair {self.options.key_name!r} does not exist")

    def target_profile(self, vm: VmInfo) -> TargetProfile:
        """Images in ``image_format``, the chosen disk bus, virtio NICs, cloud-init for OpenStack."""
        return TargetProfile(
            disk_format=self.options.image_format,
            disk_bus=self.options.disk_bus,
            nic_model="virtio",
            firmware=vm.firmware_type,
            cloud_init_datasources=("OpenStack", "ConfigDrive"),
            keeps_macs=self.options.keep_mac_addresses,
        )

    def _wait(self, fetch: Callable[[], T | None], ready: Callable[[T], bool], failed: Callable[[T], bool],
              reporter: Reporter, what: str) -> T:
        return polling.wait_until(fetch, ready, failed, self.options.active_timeout, reporter, what)

    def create_instance(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """Create ports and a server from the imported disks (boot disk first) and wait for it to be ACTIVE.

        Args:
            vm: the source instance (CPUs, memory, NICs with MACs and networks).
            disks: what ``import_disk`` returned, boot disk first.
            ctx: the migration; names the server coriolis-<migration>-<instance>.
            reporter: progress while the server builds; ``Cancelled`` propagates (cleanup deletes).
        """
        if not disks:
            raise ProviderError("no disks to boot from")
        cloud, name = self.cloud, self.server_name(ctx)
        boot = disks[0]
        from_volume = boot.path.startswith(CINDER)
        flavors = cloud.flavors()
        if self.options.flavor_name:
            flavor = flavor_choice.by_name(flavors, self.options.flavor_name)
        else:
            root_gb = None if from_volume else flavor_choice.disk_gb(boot.size_bytes)
            flavor = flavor_choice.best_fit(flavors, vm.num_cpu, vm.memory_mb, root_gb)
        reporter.info(f"flavor {flavor.name}: {flavor.vcpus} vCPUs, {flavor.ram_mb} MB, {flavor.disk_gb} GB")
        if self.options.key_name and not cloud.keypair_exists(self.options.key_name):
            raise ProviderError(f"key pair {self.options.key_name!r} does not exist")
        server = self._existing_server(ctx, name)
        ports = self._ports(vm, ctx, name, reporter)
        if server is None:
            attrs: dict[str, Any] = {
                "name": name, "flavor_id": flavor.id, "metadata": self.tags(ctx), "config_drive": True,
                "networks": [{"port": p.id} for p in ports] or "none",
            }
            if self.options.key_name:
                attrs["key_name"] = self.options.key_name
            if self.options.availability_zone:
                attrs["availability_zone"] = self.options.availability_zone
            attrs.update(boot_source(disks))
            server = cloud.create_server(**attrs)
            reporter.info(f"server {name} ({server.id}) created; waiting for ACTIVE")
        server = self._wait(lambda: cloud.get_server(server.id), lambda s: s.status == "ACTIVE",
                            lambda s: s.status == "ERROR", reporter, f"server {name}")
        return ImportedInstance(
            id=server.id,
            name=name,
            disks=tuple(disks),
            details={
                "server_id": server.id,
                "status": server.status,
                "flavor_id": flavor.id,
                "flavor_name": flavor.name,
                "ports": [{"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address} for p in ports],
                **made_from(disks),
                "key_name": self.options.key_name,
                "security_groups": list(self.options.security_groups),
            },
        )

    def create_template(
        self, vm: VmInfo, disks: list[DiskRef], ctx: MigrationContext, reporter: Reporter
    ) -> ImportedInstance:
        """A source template stays a template: its imported disks are kept as Glance images (or the
        Cinder volumes its storage mappings asked for), tagged with the migration; no server is made."""
        if not disks:
            raise ProviderError("no disks to keep")
        made = made_from(disks)
        reporter.info(f"template {vm.name}: images {made['image_ids']}; volumes {made['volume_ids']}")
        first = (made["image_ids"] or made["volume_ids"])[0]
        details = {"template": True, **made}
        return ImportedInstance(id=first, name=safe_name(vm.name), disks=tuple(disks), details=details)

    def _existing_server(self, ctx: MigrationContext, name: str) -> Server | None:
        """A server a previous attempt made (reused unless it failed: then it is deleted)."""
        for server in self.cloud.servers():
            if server.name != name or not self._mine(ctx, server.metadata):
                continue
            if server.status != "ERROR":
                return server
            self.cloud.delete_server(server.id)
            self._wait_gone(server.id)
        return None

    def _ports(self, vm: VmInfo, ctx: MigrationContext, name: str, reporter: Reporter) -> list[Port]:
        plans = plan_ports(vm.nics, self.options.network_map, self.options.keep_mac_addresses)
        groups = [self.cloud.security_group_id(g) for g in self.options.security_groups]
        description = self._port_description(ctx)
        existing = {p.name: p for p in self.cloud.ports() if p.description == description}
        ports = []
        for plan in plans:
            port_name = f"{name}-port{plan.index}"
            network_id = self._network_id(plan, ctx, reporter)
            port = existing.get(port_name)
            if port and port.network_id == network_id and plan.mac_address in (None, port.mac_address):
                ports.append(port)
                continue
            if port:
                self.cloud.delete_port(port.id)
            attrs: dict[str, Any] = {"name": port_name, "network_id": network_id, "description": description}
            if plan.mac_address:
                attrs["mac_address"] = plan.mac_address
            if groups:
                attrs["security_group_ids"] = groups
            port = self.cloud.create_port(**attrs)
            reporter.info(f"port {port_name} on {plan.network} ({port.mac_address}) for source network "
                          f"{plan.source_network!r}")
            ports.append(port)
        return ports

    def _network_id(self, plan: PortPlan, ctx: MigrationContext, reporter: Reporter) -> str:
        """The port's network: the mapped one, or the one made for the source network (created once)."""
        if not isinstance(plan.network, NewNetwork):
            return self.cloud.network_id(plan.network)
        key = plan.map_key
        name = safe_name(f"coriolis-{ctx.migration_id}-{key if key != '*' else 'net'}")
        return portgroups.ensure_network(self.cloud, plan.network, key, plan.vlan_id, ctx.migration_id, name, reporter)

    def boot(self, instance: ImportedInstance, ctx: MigrationContext, reporter: Reporter) -> BootResult:
        """The server is ACTIVE; when Nova gives a console log, the boot marker must show in it.

        Args:
            instance: what ``create_instance`` returned.
            ctx: the migration.
            reporter: progress while waiting for the marker; ``Cancelled`` propagates.
        """
        return watch_console(self.cloud, instance.id, self.options.marker, self.options.boot_timeout, reporter)

    def cleanup(self, ctx: MigrationContext) -> None:
        """Delete the servers, ports, volumes and images of this migration's instance, and the networks the
        migration made once no other instance of it uses them; safe to repeat."""
        cloud, errors = self.cloud, []
        steps: list[tuple[str, Callable[[], None]]] = [
            ("servers", lambda: self._delete_servers(ctx)),
            ("ports", lambda: [cloud.delete_port(p.id) for p in cloud.ports()
                               if p.description == self._port_description(ctx)]),
            ("volumes", lambda: [cloud.delete_volume(v.id) for v in cloud.volumes() if self._mine(ctx, v.metadata)]),
            ("images", lambda: [cloud.delete_image(i.id) for i in cloud.images() if self._mine(ctx, i.properties)]),
            ("networks", lambda: portgroups.delete_networks(cloud, ctx.migration_id)),
        ]
        for what, step in steps:
            try:
                step()
            except ProviderError as exc:  # keep deleting the rest, then say what was left
                errors.append(f"{what}: {exc}")
        if errors:
            raise ProviderError("cleanup left resources behind: " + "; ".join(errors))

    def list_networks(self) -> list[dict[str, Any]]:
        """The project's networks with their subnets' CIDRs (``NetworkInventory``)."""
        return inventory.list_networks(self.cloud)

    def list_storage(self) -> list[dict[str, Any]]:
        """The Cinder volume types, for ``storage_mappings`` (``NetworkInventory``)."""
        return inventory.list_storage(self.cloud)

    def lookup_options(self, names: frozenset[str] | None) -> list[dict[str, Any]]:
        """Flavors, key pairs, security groups, volume types, availability zones (``OptionLookup``)."""
        return lookup.destination_options(self.cloud, names)

    def _delete_servers(self, ctx: MigrationContext) -> None:
        mine = [s for s in self.cloud.servers() if self._mine(ctx, s.metadata)]
        for server in mine:
            self.cloud.delete_server(server.id)
        for server in mine:  # their ports and volumes are released only once they are gone
            self._wait_gone(server.id)

    def _wait_gone(self, server_id: str) -> None:
        polling.wait_gone(lambda: self.cloud.get_server(server_id), self.options.active_timeout, f"server {server_id}")


def make_importer(connection_info: dict[str, Any], target_environment: dict[str, Any]) -> OpenStackImporter:
    """The openstack importer; the target environment is validated now, the connection info at first use."""
    return OpenStackImporter(dict(connection_info or {}), load_target(target_environment))
