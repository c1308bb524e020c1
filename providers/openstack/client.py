"""The openstacksdk connection: the only module that imports the SDK; it hands out plain records."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import openstack
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as sdk_exceptions

from providers.netpolicy import HostNotAllowed, check_host
from providers.openstack.flavors import Flavor
from providers.openstack.options import Connection, auth_url_host
from providers.types import ProviderError

SERVICES = ("image", "compute", "network", "block-storage")
API_TIMEOUT = 300


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    status: str
    size: int | None = None
    checksum: str | None = None
    hash_algo: str | None = None
    hash_value: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str
    metadata: dict[str, str] = field(default_factory=dict)
    fault: str = ""
    flavor: str = ""


@dataclass(frozen=True)
class Port:
    id: str
    name: str
    network_id: str
    mac_address: str
    description: str = ""
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Volume:
    id: str
    name: str
    status: str
    size_gb: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    description: str = ""
    status: str = ""
    subnet_ids: tuple[str, ...] = ()
    shared: bool = False
    created_at: str = ""
    network_type: str | None = None
    physical_network: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    network_id: str
    cidr: str
    ip_version: int = 4
    gateway_ip: str | None = None
    enable_dhcp: bool = True


@dataclass(frozen=True)
class VolumeType:
    id: str
    name: str
    description: str = ""
    is_public: bool = True


@contextlib.contextmanager
def sdk_errors(what: str) -> Iterator[None]:
    """Turn SDK and Keystone failures into ``ProviderError`` saying what was being done."""
    try:
        yield
    except (sdk_exceptions.SDKException, ks_exceptions.ClientException) as exc:
        raise ProviderError(f"OpenStack: {what} failed: {exc}") from None


class Cloud:
    """A connection to one project of one cloud, opened at first use."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._conn: openstack.connection.Connection | None = None
        self._checked: set[str] = set()

    @property
    def sdk(self) -> openstack.connection.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> openstack.connection.Connection:
        c = self.connection
        try:
            check_host(auth_url_host(c.auth_url))
        except (ValueError, HostNotAllowed) as exc:
            raise ProviderError(f"auth_url: {exc}") from None
        auth_type, auth = _auth(c)
        with sdk_errors("connecting to Keystone"):
            conn = openstack.connection.Connection(
                auth_type=auth_type, auth=auth, region_name=c.region_name, interface=c.interface,
                verify=c.verify, api_timeout=API_TIMEOUT,
            )
            conn.authorize()
        return conn

    def check_catalog(self, services: tuple[str, ...] = SERVICES) -> dict[str, str]:
        """The endpoint of each service, each host checked by the network policy (the catalog could point anywhere)."""
        found = {}
        for service in services:
            with sdk_errors(f"finding the {service} endpoint"):
                url = self.sdk.session.get_endpoint(
                    service_type=service, interface=self.connection.interface, region_name=self.connection.region_name
                )
            if not url:
                raise ProviderError(f"OpenStack: the catalog has no {service} endpoint")
            try:
                check_host(urlsplit(url).hostname or "")
            except HostNotAllowed as exc:
                raise ProviderError(f"the {service} endpoint: {exc}") from None
            found[service] = url
        return found

    def _service(self, service: str) -> Any:
        """The SDK proxy of ``service``, once its catalog endpoint passed the network policy."""
        if service not in self._checked:
            self.check_catalog((service,))
            self._checked.add(service)
        return getattr(self.sdk, service.replace("-", "_"))

    # images (Glance)
    def images(self) -> list[Image]:
        with sdk_errors("listing images"):
            return [_image(i) for i in self._service("image").images()]

    def get_image(self, image_id: str) -> Image | None:
        with sdk_errors(f"reading image {image_id}"):
            found = _find(self._service("image").find_image, image_id)
            return _image(self._service("image").get_image(found.id)) if found else None

    def create_image(self, name: str, disk_format: str, container_format: str, properties: dict[str, str]) -> str:
        """A queued image record (no data yet); returns its id."""
        body = {"name": name, "disk_format": disk_format, "container_format": container_format,
                "visibility": "private", **properties}
        with sdk_errors(f"creating image {name}"):
            answer = self._service("image").post("/images", json=body)
            _raise_for(answer, f"creating image {name}")
            return answer.json()["id"]

    def upload_image(self, image_id: str, data: IO[bytes]) -> None:
        """Stream ``data`` (a file-like object with ``__len__``) into the image, in one PUT."""
        with sdk_errors(f"uploading image {image_id}"):
            answer = self._service("image").put(
                f"/images/{image_id}/file", data=data, headers={"Content-Type": "application/octet-stream"},
                raise_exc=False,
            )
            _raise_for(answer, f"uploading image {image_id}")

    def delete_image(self, image_id: str) -> None:
        with sdk_errors(f"deleting image {image_id}"):
            self._service("image").delete_image(image_id, ignore_missing=True)

    # volumes (Cinder)
    def create_volume(self, name: str, size_gb: int, image_id: str, metadata: dict[str, str],
                      volume_type: str | None, availability_zone: str | None) -> Volume:
        attrs: dict[str, Any] = {"name": name, "size": size_gb, "image_id": image_id, "metadata": metadata}
        if volume_type:
            attrs["volume_type"] = volume_type
        if availability_zone:
            attrs["availability_zone"] = availability_zone
        with sdk_errors(f"creating volume {name}"):
            return _volume(self._service("block-storage").create_volume(**attrs))

    def get_volume(self, volume_id: str) -> Volume | None:
        with sdk_errors(f"reading volume {volume_id}"):
            try:
                return _volume(self._service("block-storage").get_volume(volume_id))
            except sdk_exceptions.NotFoundException:
                return None

    def volumes(self) -> list[Volume]:
        with sdk_errors("listing volumes"):
            return [_volume(v) for v in self._service("block-storage").volumes(details=True)]

    def delete_volume(self, volume_id: str) -> None:
        with sdk_errors(f"deleting volume {volume_id}"):
            self._service("block-storage").delete_volume(volume_id, ignore_missing=True)

    # compute (Nova)
    def flavors(self) -> list[Flavor]:
        with sdk_errors("listing flavors"):
            return [Flavor(str(f.id), f.name, int(f.vcpus or 0), int(f.ram or 0), int(f.disk or 0))
                    for f in self._service("compute").flavors(details=True)]

    def keypair_names(self) -> list[str]:
        with sdk_errors("listing key pairs"):
            return [str(k.name) for k in self._service("compute").keypairs()]

    def availability_zones(self) -> list[str]:
        """Names of the compute zones that are up."""
        with sdk_errors("listing availability zones"):
            return [str(z.name) for z in self._service("compute").availability_zones()
                    if (z.state or {}).get("available", True)]

    def keypair_exists(self, name: str) -> bool:
        with sdk_errors(f"reading key pair {name}"):
            return _find(self._service("compute").find_keypair, name) is not None

    def create_server(self, **attrs: Any) -> Server:
        """A server from ``attrs`` (name, flavor_id, image_id, networks, block_device_mapping, metadata...)."""
        with sdk_errors(f"creating server {attrs.get('name')}"):
            return _server(self._service("compute").create_server(**attrs))

    def get_server(self, server_id: str) -> Server | None:
        with sdk_errors(f"reading server {server_id}"):
            try:
                return _server(self._service("compute").get_server(server_id))
            except sdk_exceptions.NotFoundException:
                return None

    def servers(self) -> list[Server]:
        with sdk_errors("listing servers"):
            return [_server(s) for s in self._service("compute").servers(details=True)]

    def delete_server(self, server_id: str) -> None:
        with sdk_errors(f"deleting server {server_id}"):
            self._service("compute").delete_server(server_id, ignore_missing=True)

    def console_output(self, server_id: str) -> str | None:
        """The server's console log, or None when the cloud does not offer it."""
        try:
            answer = self._service("compute").get_server_console_output(server_id)
        except (sdk_exceptions.SDKException, ks_exceptions.ClientException):
            return None
        return str(answer.get("output") or "")

    # network (Neutron)
    def network_id(self, name_or_id: str) -> str:
        with sdk_errors(f"finding network {name_or_id}"):
            network = _find(self._service("network").find_network, name_or_id)
        if network is None:
            raise ProviderError(f"network {name_or_id!r} does not exist")
        return str(network.id)

    def security_group_id(self, name_or_id: str) -> str:
        with sdk_errors(f"finding security group {name_or_id}"):
            group = _find(self._service("network").find_security_group, name_or_id)
        if group is None:
            raise ProviderError(f"security group {name_or_id!r} does not exist")
        return str(group.id)

    def security_groups(self) -> list[tuple[str, str]]:
        """``(id, name)`` of the project's security groups."""
        with sdk_errors("listing security groups"):
            return [(str(g.id), g.name or "") for g in self._service("network").security_groups()]

    def create_port(self, **attrs: Any) -> Port:
        with sdk_errors(f"creating port {attrs.get('name')}"):
            return _port(self._service("network").create_port(**attrs))

    def ports(self) -> list[Port]:
        with sdk_errors("listing ports"):
            return [_port(p) for p in self._service("network").ports()]

    def delete_port(self, port_id: str) -> None:
        with sdk_errors(f"deleting port {port_id}"):
            self._service("network").delete_port(port_id, ignore_missing=True)

    def networks(self) -> list[Network]:
        with sdk_errors("listing networks"):
            return [_network(n) for n in self._service("network").networks()]

    def create_network(self, **attrs: Any) -> Network:
        """A network from ``attrs`` (name, description, provider_network_type, provider_segmentation_id...)."""
        with sdk_errors(f"creating network {attrs.get('name')}"):
            return _network(self._service("network").create_network(**attrs))

    def delete_network(self, network_id: str) -> None:
        """Delete a network (Neutron deletes its subnets with it)."""
        with sdk_errors(f"deleting network {network_id}"):
            self._service("network").delete_network(network_id, ignore_missing=True)

    def subnets(self, network_id: str | None = None) -> list[Subnet]:
        query = {"network_id": network_id} if network_id else {}
        with sdk_errors("listing subnets"):
            return [_subnet(n) for n in self._service("network").subnets(**query)]

    def create_subnet(self, **attrs: Any) -> Subnet:
        """A subnet from ``attrs`` (network_id, cidr, ip_version, name, gateway_ip, is_dhcp_enabled...)."""
        with sdk_errors(f"creating subnet {attrs.get('name')}"):
            return _subnet(self._service("network").create_subnet(**attrs))

    # volume types (Cinder)
    def volume_types(self) -> list[VolumeType]:
        with sdk_errors("listing volume types"):
            return [VolumeType(str(t.id), t.name or "", t.description or "", bool(t.is_public))
                    for t in self._service("block-storage").types()]


def _auth(c: Connection) -> tuple[str, dict[str, Any]]:
    """The keystoneauth plugin name and options for ``c``: a trust, a token or a password."""
    if c.use_caller_identity:  # the service turns it into a trust before a provider sees it
        raise ProviderError("use_caller_identity: the caller's identity is only available inside a run "
                            "(the service logs in with a Keystone trust the API made for it)")
    auth: dict[str, Any] = {"auth_url": c.auth_url}
    user_domain = {"user_domain_id": c.user_domain_id} if c.user_domain_id else {"user_domain_name": c.user_domain_name}
    if c.trust_id:
        # a trust fixes the project and the roles; with impersonation the token is the trustor's
        auth.update(username=c.username, password=c.password, trust_id=c.trust_id, **user_domain)
        return "v3password", auth
    if c.project_id:
        auth["project_id"] = c.project_id
    else:
        auth.update(project_name=c.project_name, project_domain_name=c.project_domain_name)
    if c.token:
        auth["token"] = c.token
        return "v3token", auth
    auth.update(username=c.username, password=c.password, **user_domain)
    return "v3password", auth


def _find(method: Any, name_or_id: str) -> Any:
    """What an SDK ``find_*`` method finds, or None."""
    try:
        return method(name_or_id, ignore_missing=False)
    except sdk_exceptions.NotFoundException:
        return None


def _raise_for(answer: Any, what: str) -> None:
    if answer.status_code >= 400:
        raise ProviderError(f"OpenStack: {what} failed: HTTP {answer.status_code} {answer.text[:300]}")


def _image(i: Any) -> Image:
    return Image(str(i.id), i.name or "", i.status or "", i.size, i.checksum, i.hash_algo, i.hash_value,
                 dict(i.properties or {}))


def _server(s: Any) -> Server:
    fault = s.fault or {}
    flavor = s.flavor
    flavor_ref = ""
    if flavor is not None:  # microversions before 2.47 give an id, later ones the original name
        flavor_ref = str(getattr(flavor, "id", None) or getattr(flavor, "original_name", None)
                         or getattr(flavor, "name", None) or "")
    return Server(str(s.id), s.name or "", s.status or "", dict(s.metadata or {}),
                  str(fault.get("message") or "") if isinstance(fault, dict) else str(fault), flavor_ref)


def _port(p: Any) -> Port:
    return Port(str(p.id), p.name or "", str(p.network_id), p.mac_address or "", p.description or "",
                tuple(p.security_group_ids or ()))


def _volume(v: Any) -> Volume:
    return Volume(str(v.id), v.name or "", v.status or "", int(v.size or 0), dict(v.metadata or {}))


def _network(n: Any) -> Network:
    segment = n.provider_segmentation_id
    return Network(str(n.id), n.name or "", n.description or "", n.status or "", tuple(n.subnet_ids or ()),
                   bool(n.is_shared), str(n.created_at or ""), n.provider_network_type,
                   n.provider_physical_network, int(segment) if segment is not None else None)


def _subnet(n: Any) -> Subnet:
    return Subnet(str(n.id), n.name or "", str(n.network_id), n.cidr or "", int(n.ip_version or 4), n.gateway_ip,
                  bool(n.is_dhcp_enabled))
