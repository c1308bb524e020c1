"""What a Windows guest is, read offline from its SYSTEM and SOFTWARE hives.

Version, build, edition and architecture decide which driver build fits and whether the version
is supported at all; the current control set is read from ``Select`` (never assumed to be
ControlSet001); installed hypervisor tools and static network settings are what the first boot
undoes and replays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from morphing.errors import MorphError
from morphing.registry import Hive, control_set

CURRENT_VERSION = r"Microsoft\Windows NT\CurrentVersion"
UNINSTALL = r"Microsoft\Windows\CurrentVersion\Uninstall"
NET_CLASS = r"Control\Class\{4D36E972-E325-11CE-BFC1-08002BE10318}"
TCPIP_INTERFACES = r"Services\Tcpip\Parameters\Interfaces"
# Server builds of Windows 10-era kernels, by the name virtio-win gives their driver folders.
SERVER_BUILDS = {14393: "2k16", 17763: "2k19", 20348: "2k22", 26100: "2k25"}
SUPPORTED = "Windows Server 2012 R2, 2016, 2019, 2022, 2025 and Windows 10/11"
_TOOLS = (
    ("vmware", re.compile(r"^VMware Tools\b", re.IGNORECASE)),
    ("hyperv", re.compile(r"Hyper-V (Integration|Guest)", re.IGNORECASE)),
    ("xen", re.compile(r"(Citrix|XenServer|Xen) .*(Tools|PV|VM Tools)", re.IGNORECASE)),
    ("parallels", re.compile(r"^Parallels Tools\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class GuestTools:
    """A hypervisor's tools found in the Uninstall list."""

    kind: str
    name: str
    uninstall: str


@dataclass(frozen=True)
class Adapter:
    """A network adapter's TCP/IP settings, and the MAC the registry ties it to (if it does)."""

    guid: str
    description: str
    dhcp: bool
    addresses: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    mac: str | None = None
    index: int = 0

    @property
    def static(self) -> bool:
        return not self.dhcp and any(a and a != "0.0.0.0" for a in self.addresses)


@dataclass(frozen=True)
class WindowsFacts:
    """The facts the conversion needs, all from the registry."""

    product_name: str
    major: int
    minor: int
    build: int
    server: bool
    edition: str
    arch: str
    control_set: str
    tools: tuple[GuestTools, ...] = ()
    adapters: tuple[Adapter, ...] = field(default_factory=tuple)

    @property
    def version_tag(self) -> str:
        """virtio-win's folder name for this version (2k12r2, 2k16..2k25, w10, w11).

        Raises:
            MorphError: a version this project does not convert.
        """
        if (self.major, self.minor) == (6, 3) and self.server:
            return "2k12r2"
        if self.major == 10 and self.server and self.build in SERVER_BUILDS:
            return SERVER_BUILDS[self.build]
        if self.major == 10 and not self.server:
            return "w11" if self.build >= 22000 else "w10"
        raise MorphError(
            f"unsupported Windows version: {self.product_name} ({self.major}.{self.minor} build {self.build}, "
            f"{'server' if self.server else 'client'}); supported: {SUPPORTED}"
        )

    @property
    def virtio_arch(self) -> str:
        return {"x86_64": "amd64", "i386": "x86"}.get(self.arch, self.arch)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v.strip() for v in value if v.strip())
    if isinstance(value, str):
        return tuple(v for v in re.split(r"[,\s]+", value) if v)
    return ()


def _mac(value: str) -> str | None:
    digits = re.sub(r"[^0-9a-fA-F]", "", value)
    if len(digits) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).lower()


def read_version(software: Hive) -> tuple[str, int, int, int, bool, str]:
    """Product name, major, minor, build, server?, edition from SOFTWARE's CurrentVersion key.

    Raises:
        MorphError: the key is missing (not a Windows SOFTWARE hive).
    """
    if not software.exists(CURRENT_VERSION):
        raise MorphError(f"the SOFTWARE hive has no {CURRENT_VERSION} key")
    get = lambda name: software.get(CURRENT_VERSION, name)  # noqa: E731
    product = _text(get("ProductName")) or "Windows"
    major, minor = get("CurrentMajorVersionNumber"), get("CurrentMinorVersionNumber")
    if not isinstance(major, int):
        parts = _text(get("CurrentVersion")).split(".")
        major = int(parts[0]) if parts[0].isdigit() else 0
        minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    build_text = _text(get("CurrentBuildNumber")) or _text(get("CurrentBuild"))
    build = int(build_text) if build_text.isdigit() else 0
    installation = _text(get("InstallationType"))
    server = installation.lower().startswith("server") if installation else "server" in product.lower()
    return product, major, int(minor or 0), build, server, _text(get("EditionID"))


def read_tools(software: Hive) -> tuple[GuestTools, ...]:
    """Hypervisor tools in the Uninstall list, with their uninstall command lines."""
    found = []
    for key in software.subkeys(UNINSTALL):
        path = f"{UNINSTALL}\\{key}"
        name = _text(software.get(path, "DisplayName"))
        uninstall = _text(software.get(path, "UninstallString"))
        for kind, pattern in _TOOLS:
            if name and pattern.search(name):
                found.append(GuestTools(kind, name, uninstall))
                break
    return tuple(found)


def read_adapters(system: Hive, cs: str) -> tuple[Adapter, ...]:
    """The network adapters of the net class, with their Tcpip interface settings."""
    adapters = []
    for sub in system.subkeys(f"{cs}\\{NET_CLASS}"):
        if not sub.isdigit():
            continue
        path = f"{cs}\\{NET_CLASS}\\{sub}"
        guid = _text(system.get(path, "NetCfgInstanceId"))
        if not guid:
            continue
        iface = f"{cs}\\{TCPIP_INTERFACES}\\{guid}"
        if not system.exists(iface):
            continue
        dhcp = system.get(iface, "EnableDHCP")
        adapters.append(
            Adapter(
                guid=guid,
                description=_text(system.get(path, "DriverDesc")),
                dhcp=dhcp != 0,
                addresses=_list(system.get(iface, "IPAddress")),
                masks=_list(system.get(iface, "SubnetMask")),
                gateways=_list(system.get(iface, "DefaultGateway")),
                dns=_list(system.get(iface, "NameServer")),
                mac=_mac(_text(system.get(path, "NetworkAddress"))),
                index=int(sub),
            )
        )
    return tuple(sorted(adapters, key=lambda a: a.index))


def read_arch(system: Hive, cs: str, pe_arch: str | None) -> str:
    """The architecture: PROCESSOR_ARCHITECTURE of the session environment, else the PE header's."""
    value = _text(system.get(f"{cs}\\Control\\Session Manager\\Environment", "PROCESSOR_ARCHITECTURE"))
    by_name = {"amd64": "x86_64", "x86": "i386", "arm64": "aarch64"}
    return by_name.get(value.lower()) or pe_arch or "unknown"


def read_system(system: Hive, pe_arch: str | None) -> tuple[str, str, tuple[Adapter, ...]]:
    """Control set, architecture and adapters from the SYSTEM hive.

    Raises:
        MorphError: the hive has no usable control set.
    """
    try:
        cs = control_set(system)
    except ValueError as exc:
        raise MorphError(str(exc)) from exc
    return cs, read_arch(system, cs, pe_arch), read_adapters(system, cs)


def read_facts(system: tuple[str, str, tuple[Adapter, ...]], software: Hive) -> WindowsFacts:
    """Every fact: what ``read_system`` found (the appliance opens one hive at a time) and SOFTWARE's.

    Raises:
        MorphError: the SOFTWARE hive is not a Windows one.
    """
    cs, arch, adapters = system
    product, major, minor, build, server, edition = read_version(software)
    return WindowsFacts(
        product_name=product,
        major=major,
        minor=minor,
        build=build,
        server=server,
        edition=edition,
        arch=arch,
        control_set=cs,
        tools=read_tools(software),
        adapters=adapters,
    )
