"""What every OS-family fixer gets to work with, and the shape it has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from morphing.changes import ChangeLog
from morphing.devices import DeviceMap
from morphing.options import MorphOptions, Toolkit
from morphing.runner import Runner
from morphing.tree import GuestTree
from providers.types import OsInfo, TargetProfile, VmInfo


@dataclass
class FixContext:
    """The guest (a tree and a command runner) and what the migration asks for."""

    tree: GuestTree
    runner: Runner
    devices: DeviceMap
    os_info: OsInfo
    vm: VmInfo
    target: TargetProfile
    options: MorphOptions
    log: ChangeLog
    toolkit: Toolkit = field(default_factory=Toolkit)


class Fixer:
    """An OS family's fixer: one method per concern, run in the order of ``concerns``."""

    name: ClassVar[str] = ""
    concerns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: FixContext) -> None:
        self.ctx = ctx
        self.tree = ctx.tree
        self.log = ctx.log

    @classmethod
    def matches(cls, os_info: OsInfo) -> bool:
        """Whether this fixer handles the detected OS."""
        return False

    def fix(self, concern: str) -> None:
        """Run one concern (a method named like it)."""
        getattr(self, concern)()
