"""Tests of the libvirt domain XML and the qemu command line the kvm destination writes."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from providers.kvm.domain import (
    DomainSpec,
    disk_target,
    drive_files,
    format_option_string,
    generated_mac,
    normalize_mac,
    parse_option_string,
    render_domain_xml,
    render_qemu_argv,
    replace_drives,
    with_console_log,
)
from providers.types import DiskRef, Firmware


def make_spec(**overrides: object) -> DomainSpec:
    values: dict = {
        "name": "coriolis-m1-web",
        "memory_mb": 1024,
        "num_cpu": 2,
        "disks": (
            DiskRef("boot", "/store/boot.qcow2", "qcow2", 1 << 30),
            DiskRef("data", "/store/data,1.raw", "raw", 1 << 29),
        ),
        "macs": ("00:50:56:ab:cd:01", "00:50:56:ab:cd:02"),
        "qemu_binary": "/usr/bin/qemu-system-x86_64",
    }
    values.update(overrides)
    return DomainSpec(**values)


def test_xml_has_virtio_disks_in_order_with_driver_types() -> None:
    root = ET.fromstring(render_domain_xml(make_spec()))
    disks = root.findall("./devices/disk")
    assert [d.find("source").get("file") for d in disks] == ["/store/boot.qcow2", "/store/data,1.raw"]
    assert [d.find("target").get("dev") for d in disks] == ["vda", "vdb"]
    assert {d.find("target").get("bus") for d in disks} == {"virtio"}
    assert [d.find("driver").get("type") for d in disks] == ["qcow2", "raw"]


def test_xml_keeps_macs_cpus_memory_and_has_serial_without_graphics() -> None:
    root = ET.fromstring(render_domain_xml(make_spec()))
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "coriolis-m1-web"
    assert root.find("memory").get("unit") == "MiB" and root.findtext("memory") == "1024"
    assert root.findtext("vcpu") == "2"
    os_type = root.find("./os/type")
    assert (os_type.text, os_type.get("machine"), os_type.get("arch")) == ("hvm", "pc", "x86_64")
    nics = root.findall("./devices/interface")
    assert [n.find("mac").get("address") for n in nics] == ["00:50:56:ab:cd:01", "00:50:56:ab:cd:02"]
    assert {n.find("model").get("type") for n in nics} == {"virtio"}
    assert root.find("./devices/serial").get("type") == "pty"
    assert root.find("./devices/console/target").get("type") == "serial"
    assert root.find("./devices/graphics") is None
    assert root.find("./os/loader") is None


def test_xml_efi_uses_ovmf_loader_and_nvram() -> None:
    spec = make_spec(firmware=Firmware.EFI, machine="q35", accel="kvm", ovmf_code="/fw/CODE.fd",
                     ovmf_vars_template="/fw/VARS.fd", nvram="/store/OVMF_VARS.fd")
    root = ET.fromstring(render_domain_xml(spec))
    assert root.get("type") == "kvm"
    assert root.find("./os/type").get("machine") == "q35"
    loader = root.find("./os/loader")
    assert (loader.text, loader.get("type"), loader.get("readonly")) == ("/fw/CODE.fd", "pflash", "yes")
    nvram = root.find("./os/nvram")
    assert (nvram.text, nvram.get("template")) == ("/store/OVMF_VARS.fd", "/fw/VARS.fd")
    argv = render_qemu_argv(spec)
    assert "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd" in argv
    assert "if=pflash,format=raw,unit=1,file=/store/OVMF_VARS.fd" in argv
    assert drive_files(argv) == ["/store/boot.qcow2", "/store/data,1.raw"]


def test_xml_direct_kernel_boot() -> None:
    root = ET.fromstring(render_domain_xml(make_spec(kernel="/k", initrd="/i", append="console=ttyS0")))
    assert [root.findtext(f"./os/{tag}") for tag in ("kernel", "initrd", "cmdline")] == ["/k", "/i",
                                                                                       "console=ttyS0"]


def test_network_none_has_no_interfaces() -> None:
    spec = make_spec(network="none")
    assert ET.fromstring(render_domain_xml(spec)).find("./devices/interface") is None
    argv = render_qemu_argv(spec)
    assert argv[argv.index("-nic") + 1] == "none"


@pytest.mark.parametrize("firmware", [Firmware.BIOS, Firmware.EFI])
def test_xml_validates_against_libvirt_schema(tmp_path: Path, firmware: Firmware) -> None:
    spec = make_spec(firmware=firmware, ovmf_code="/fw/CODE.fd", ovmf_vars_template="/fw/VARS.fd",
                     nvram="/store/VARS.fd", kernel="/k", initrd="/i", append="quiet")
    path = tmp_path / "domain.xml"
    path.write_text(render_domain_xml(spec))
    proc = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_qemu_argv_tcg_virtio_macs_restricted() -> None:
    argv = render_qemu_argv(make_spec())
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert argv[argv.index("-machine") + 1] == "pc"
    assert argv[argv.index("-m") + 1] == "1024" and argv[argv.index("-smp") + 1] == "2"
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert drives == [
        "file=/store/boot.qcow2,format=qcow2,if=virtio,index=0",
        "file=/store/data,,1.raw,format=raw,if=virtio,index=1",
    ]
    nics = [argv[i + 1] for i, a in enumerate(argv) if a == "-nic"]
    assert nics == [
        "user,model=virtio-net-pci,mac=00:50:56:ab:cd:01,restrict=on",
        "user,model=virtio-net-pci,mac=00:50:56:ab:cd:02,restrict=on",
    ]
    assert "-nodefaults" in argv and "-nographic" in argv
    assert "-vnc" not in argv and "-display" not in argv


def test_option_strings_round_trip_with_commas() -> None:
    text = "file=/a,,b.qcow2,format=qcow2,if=virtio,readonly"
    pairs = parse_option_string(text)
    assert pairs == [("file", "/a,b.qcow2"), ("format", "qcow2"), ("if", "virtio"), ("readonly", None)]
    assert format_option_string(pairs) == text


def test_replace_drives_and_console_log() -> None:
    argv = render_qemu_argv(make_spec())
    booted = with_console_log(replace_drives(argv, {"/store/data,1.raw": ("/tmp/ov,1.qcow2", "qcow2")}),
                              "/tmp/console.log")
    assert drive_files(booted) == ["/store/boot.qcow2", "/tmp/ov,1.qcow2"]
    assert "file=/tmp/ov,,1.qcow2,format=qcow2,if=virtio,index=1" in booted
    assert booted[booted.index("-serial") + 1] == "file:/tmp/console.log"
    assert "-no-reboot" in booted
    assert argv[argv.index("-serial") + 1] == "pty"  # the original is not modified


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("00:50:56:AB:CD:EF", "00:50:56:ab:cd:ef"),
        ("00-15-5D-01-02-03", "00:15:5d:01:02:03"),
        ("0050.56ab.cdef", "00:50:56:ab:cd:ef"),
        ("00155d010203", "00:15:5d:01:02:03"),
        ("01:00:5e:00:00:01", None),  # multicast
        ("00:00:00:00:00:00", None),
        ("zz:50:56:ab:cd:ef", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_mac(given: str | None, expected: str | None) -> None:
    assert normalize_mac(given) == expected


def test_generated_mac_is_stable_and_valid() -> None:
    mac = generated_mac("coriolis-m1-web-nic0")
    assert mac == generated_mac("coriolis-m1-web-nic0") != generated_mac("coriolis-m1-web-nic1")
    assert normalize_mac(mac) == mac and mac.startswith("52:54:00:")


def test_disk_targets() -> None:
    assert [disk_target(i) for i in (0, 1, 25, 26, 27)] == ["vda", "vdb", "vdz", "vdaa", "vdab"]
