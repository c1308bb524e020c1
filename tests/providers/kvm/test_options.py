"""Tests of the kvm destination's option schemas and provider spec."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from providers.kvm import PROVIDER
from providers.kvm.destination import KvmImporter
from providers.kvm.options import DEFAULT_BOOT_MARKER, load_options
from providers.types import Firmware, Importer, VmInfo


def test_provider_spec() -> None:
    assert PROVIDER.name == "kvm"
    assert PROVIDER.abilities == ["source", "destination"]
    importer = PROVIDER.importer({"storage_dir": "/srv/vms"}, {})  # type: ignore[misc]
    assert isinstance(importer, KvmImporter) and isinstance(importer, Importer)


def test_defaults() -> None:
    conn, opts = load_options({"storage_dir": "/srv/vms"}, None)
    assert (conn.accel, conn.qemu_binary) == ("tcg", "qemu-system-x86_64")
    assert (opts.disk_format, opts.machine, opts.network, opts.boot_timeout) == ("qcow2", "pc", "user", 120)
    assert opts.memory_mb is None and opts.num_cpu is None and opts.preserve_static_ips is False
    assert opts.boot_marker is None and opts.marker == DEFAULT_BOOT_MARKER


def test_host_programs_and_firmware_come_from_the_operator(monkeypatch) -> None:
    from providers import hostconfig

    assert (hostconfig.DEFAULT_OVMF_CODE, hostconfig.DEFAULT_OVMF_VARS) == (
        "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd")  # Debian's ovmf: UEFI boots untouched
    monkeypatch.setattr(hostconfig, "_configured", hostconfig.HostConfig("/opt/qemu", "/fw/CODE", "/fw/VARS"))
    conn, _ = load_options({"storage_dir": "/srv/vms"}, None)
    assert (conn.qemu_binary, conn.ovmf_code, conn.ovmf_vars) == ("/opt/qemu", "/fw/CODE", "/fw/VARS")


def test_explicit_none_marker_uses_default() -> None:
    _, opts = load_options({"storage_dir": "/x"}, {"boot_marker": None, "preserve_static_ips": True})
    assert opts.marker == DEFAULT_BOOT_MARKER and opts.preserve_static_ips is True


@pytest.mark.parametrize(
    ("connection", "target"),
    [
        ({}, {}),
        ({"storage_dir": "/x", "accel": "hvf"}, {}),
        ({"storage_dir": "/x"}, {"disk_format": "vmdk"}),
        ({"storage_dir": "/x"}, {"machine": "virt"}),
        ({"storage_dir": "/x"}, {"network": "bridge"}),
        ({"storage_dir": "/x"}, {"boot_marker": "("}),
        ({"storage_dir": "/x"}, {"memory_mb": 0}),
        ({"storage_dir": "/x"}, {"num_cpu": 0}),
        ({"storage_dir": "/x"}, {"boot_timeout": 0}),
        ({"storage_dir": "/x"}, {"unknown_option": 1}),
        # host programs and firmware are the operator's settings, never connection info or options
        ({"storage_dir": "/x", "qemu_binary": "/bin/sh"}, {}),
        ({"storage_dir": "/x", "ovmf_code": "/etc/shadow"}, {}),
        ({"storage_dir": "/x", "ovmf_vars": "/etc/shadow"}, {}),
        ({"storage_dir": "/x"}, {"kernel": "/etc/shadow"}),
        ({"storage_dir": "/x"}, {"initrd": "/etc/shadow"}),
    ],
)
def test_invalid_options(connection: dict, target: dict) -> None:
    with pytest.raises(ValidationError):
        load_options(connection, target)


def test_target_profile() -> None:
    importer = PROVIDER.importer({"storage_dir": "/x"}, {"disk_format": "raw"})  # type: ignore[misc]
    profile = importer.target_profile(VmInfo(id="1", name="a", firmware_type=Firmware.EFI))
    assert (profile.disk_format, profile.disk_bus, profile.nic_model) == ("raw", "virtio", "virtio")
    assert profile.firmware == Firmware.EFI and profile.cloud_init_datasources == ("NoCloud",)
