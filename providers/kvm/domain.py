"""The instance definition: a libvirt domain XML and the equivalent qemu command line."""

from __future__ import annotations

import hashlib
import re
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from providers.types import DiskRef, Firmware

_MAC_RE = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class DomainSpec:
    """Everything both renderings need, already decided (names, sizes, paths)."""

    name: str
    memory_mb: int
    num_cpu: int
    disks: tuple[DiskRef, ...]
    macs: tuple[str, ...] = ()
    machine: str = "pc"
    accel: str = "tcg"
    firmware: Firmware = Firmware.BIOS
    network: str = "user"
    qemu_binary: str = "qemu-system-x86_64"
    ovmf_code: str | None = None
    ovmf_vars_template: str | None = None
    nvram: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None


def normalize_mac(mac: str | None) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` from the usual spellings, None if it is no usable unicast MAC.

    Args:
        mac: a MAC address as a hypervisor reports it (colons, dashes, dots or none; any case).
    """
    if not mac:
        return None
    digits = re.sub(r"[:\-. ]", "", mac.strip().lower())
    if not _MAC_RE.match(digits) or int(digits[:2], 16) & 1 or digits == "0" * 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def generated_mac(seed: str) -> str:
    """A stable MAC in qemu's locally administered range, derived from ``seed``."""
    tail = hashlib.sha256(seed.encode()).hexdigest()[:6]
    return "52:54:00:" + ":".join(tail[i : i + 2] for i in range(0, 6, 2))


def disk_target(index: int) -> str:
    """The guest device name of the index-th virtio disk: vda... vdz, vdaa..."""
    letters = string.ascii_lowercase
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = letters[rem] + name
    return "vd" + name


def render_domain_xml(spec: DomainSpec) -> str:
    """The libvirt domain XML of ``spec`` (serial console on a pty, no graphics)."""
    domain = ET.Element("domain", type="kvm" if spec.accel == "kvm" else "qemu")
    ET.SubElement(domain, "name").text = spec.name
    ET.SubElement(domain, "memory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(domain, "vcpu").text = str(spec.num_cpu)
    os_el = ET.SubElement(domain, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine=spec.machine).text = "hvm"
    if spec.firmware == Firmware.EFI and spec.ovmf_code:
        ET.SubElement(os_el, "loader", readonly="yes", type="pflash").text = spec.ovmf_code
        if spec.nvram:
            attrs = {"template": spec.ovmf_vars_template} if spec.ovmf_vars_template else {}
            ET.SubElement(os_el, "nvram", attrs).text = spec.nvram
    if spec.kernel:
        ET.SubElement(os_el, "kernel").text = spec.kernel
        if spec.initrd:
            ET.SubElement(os_el, "initrd").text = spec.initrd
        if spec.append:
            ET.SubElement(os_el, "cmdline").text = spec.append
    else:
        ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(domain, "clock", offset="utc")
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_reboot").text = "restart"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    if spec.qemu_binary.startswith("/"):
        ET.SubElement(devices, "emulator").text = spec.qemu_binary
    for index, disk in enumerate(spec.disks):
        disk_el = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk_el, "driver", name="qemu", type=disk.format)
        ET.SubElement(disk_el, "source", file=disk.path)
        ET.SubElement(disk_el, "target", dev=disk_target(index), bus="virtio")
    if spec.network == "user":
        for mac in spec.macs:
            nic = ET.SubElement(devices, "interface", type="user")
            ET.SubElement(nic, "mac", address=mac)
            ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def _escape(value: str) -> str:
    """A value for a qemu ``key=value,...`` option: commas are doubled."""
    return value.replace(",", ",,")


def render_qemu_argv(spec: DomainSpec) -> list[str]:
    """The qemu command line equivalent to ``render_domain_xml(spec)``."""
    argv = [
        spec.qemu_binary,
        "-name", spec.name,
        "-machine", spec.machine,
        "-accel", spec.accel,
        "-m", str(spec.memory_mb),
        "-smp", str(spec.num_cpu),
    ]
    if spec.firmware == Firmware.EFI and spec.ovmf_code:
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={_escape(spec.ovmf_code)}"]
        if spec.nvram:
            argv += ["-drive", f"if=pflash,format=raw,unit=1,file={_escape(spec.nvram)}"]
    if spec.kernel:
        argv += ["-kernel", spec.kernel]
        if spec.initrd:
            argv += ["-initrd", spec.initrd]
        if spec.append:
            argv += ["-append", spec.append]
    for index, disk in enumerate(spec.disks):
        argv += ["-drive", f"file={_escape(disk.path)},format={disk.format},if=virtio,index={index}"]
    if spec.network == "user" and spec.macs:
        for mac in spec.macs:
            argv += ["-nic", f"user,model=virtio-net-pci,mac={mac},restrict=on"]
    else:
        argv += ["-nic", "none"]
    argv += ["-nodefaults", "-nographic", "-serial", "pty"]
    return argv


def parse_option_string(value: str) -> list[tuple[str, str | None]]:
    """Split a qemu ``key=value,...`` string (``,,`` is a literal comma) into pairs."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(value):
        char = value[i]
        if char == ",":
            if value[i + 1 : i + 2] == ",":
                current += ","
                i += 2
                continue
            parts.append(current)
            current = ""
        else:
            current += char
        i += 1
    parts.append(current)
    pairs: list[tuple[str, str | None]] = []
    for part in parts:
        key, sep, val = part.partition("=")
        pairs.append((key, val if sep else None))
    return pairs


def format_option_string(pairs: list[tuple[str, str | None]]) -> str:
    """The inverse of ``parse_option_string``."""
    return ",".join(key if val is None else f"{key}={_escape(val)}" for key, val in pairs)


def replace_drives(argv: list[str], mapping: dict[str, tuple[str, str]]) -> list[str]:
    """A copy of ``argv`` whose ``-drive file=`` paths in ``mapping`` point elsewhere.

    Args:
        argv: a qemu command line.
        mapping: old image path -> (new image path, its format), e.g. to boot on overlays.
    """
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg != "-drive":
            continue
        pairs = parse_option_string(out[i + 1])
        options = dict(pairs)
        target = mapping.get(options.get("file") or "")
        if not target:
            continue
        new_path, new_format = target
        replaced = {"file": new_path, "format": new_format}
        out[i + 1] = format_option_string([(k, replaced.get(k, v)) for k, v in pairs])
    return out


def drive_files(argv: list[str]) -> list[str]:
    """The image paths of the ``-drive`` options that are not firmware (pflash)."""
    files = []
    for i, arg in enumerate(argv[:-1]):
        if arg == "-drive":
            options = dict(parse_option_string(argv[i + 1]))
            if options.get("if") != "pflash" and options.get("file"):
                files.append(options["file"] or "")
    return files


def with_console_log(argv: list[str], log_path: str) -> list[str]:
    """A copy of ``argv`` that writes the serial console to ``log_path``, headless, no reboot."""
    out = list(argv)
    if "-serial" in out:
        out[out.index("-serial") + 1] = f"file:{log_path}"
    else:
        out += ["-serial", f"file:{log_path}"]
    for flag in ("-nographic", "-nodefaults", "-no-reboot"):
        if flag not in out:
            out.append(flag)
    return out
