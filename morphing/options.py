"""What a morph is asked to do (MorphOptions) and what it did (MorphResult)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from providers.types import OsInfo, OsType


@dataclass(frozen=True)
class MorphOptions:
    """Choices the user makes for the guest's changes.

    Attributes:
        preserve_static_ips: keep each NIC's static addresses, gateway and DNS (by MAC);
            otherwise every NIC gets DHCP.
        hostname: set this hostname in the guest (None: leave it).
        extra_packages: refused (must stay empty): the morphing appliance has no network, and
            giving it one would let a guest reach the worker's networks.
        remove_guest_tools: remove the source hypervisor's guest tools (open-vm-tools...).
    """

    preserve_static_ips: bool = False
    hostname: str | None = None
    extra_packages: tuple[str, ...] = ()
    remove_guest_tools: bool = True

    def __post_init__(self) -> None:
        if self.extra_packages:
            raise ValueError(
                "extra_packages cannot be installed while morphing: the appliance has no network "
                f"(asked for {', '.join(self.extra_packages)}); install them after the migration"
            )

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "extra_packages": list(self.extra_packages)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MorphOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "extra_packages" in values:
            values["extra_packages"] = tuple(values["extra_packages"] or ())
        return cls(**values)


@dataclass(frozen=True)
class MorphResult:
    """What the morph found and changed (each change was also reported as an event)."""

    os_info: OsInfo
    changes: list[str] = field(default_factory=list)
    fixer: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    inspection: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "os_info": {**dataclasses.asdict(self.os_info), "os_type": str(self.os_info.os_type)},
            "changes": list(self.changes),
            "fixer": self.fixer,
            "timings": dict(self.timings),
            "inspection": dict(self.inspection),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MorphResult:
        info = dict(data.get("os_info") or {})
        info["os_type"] = OsType(info.get("os_type") or "unknown")
        return cls(
            OsInfo(**info),
            list(data.get("changes") or []),
            data.get("fixer") or "",
            dict(data.get("timings") or {}),
            dict(data.get("inspection") or {}),
        )
