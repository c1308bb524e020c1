"""Host programs and firmware providers run or copy: the operator's settings, never a tenant's.

The API and the workers call ``configure`` at start with their settings (``kvm_qemu_binary``,
``kvm_ovmf_code``, ``kvm_ovmf_vars``); until then the ``CORIOLIS_KVM_*`` environment variables of
those settings, or the defaults, hold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_QEMU_BINARY = "qemu-system-x86_64"
DEFAULT_OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"  # Debian's ovmf package
DEFAULT_OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"


@dataclass(frozen=True)
class HostConfig:
    """What the kvm destination runs and copies.

    Args:
        qemu_binary: the qemu system emulator (a name looked up on PATH, or an absolute path).
        ovmf_code: UEFI firmware code for EFI guests.
        ovmf_vars: the UEFI variable store template each EFI instance gets a private copy of.
    """

    qemu_binary: str = DEFAULT_QEMU_BINARY
    ovmf_code: str = DEFAULT_OVMF_CODE
    ovmf_vars: str = DEFAULT_OVMF_VARS


_configured: HostConfig | None = None


def configure(config: HostConfig) -> None:
    """Set the process-wide host configuration (called at start by the API and the workers)."""
    global _configured
    _configured = config


def current() -> HostConfig:
    """The configured host configuration, or the one the environment describes."""
    if _configured is not None:
        return _configured
    env = os.environ
    return HostConfig(
        qemu_binary=env.get("CORIOLIS_KVM_QEMU_BINARY") or DEFAULT_QEMU_BINARY,
        ovmf_code=env.get("CORIOLIS_KVM_OVMF_CODE") or DEFAULT_OVMF_CODE,
        ovmf_vars=env.get("CORIOLIS_KVM_OVMF_VARS") or DEFAULT_OVMF_VARS,
    )
