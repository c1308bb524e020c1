"""Source instances of the kvm provider: libvirt domain XMLs (as ``virsh dumpxml`` writes them) read into VmInfo."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import defusedxml
from defusedxml.ElementTree import fromstring

from providers.types import ControllerInfo, DiskInfo, Firmware, NicInfo, OsType, ProviderError, VmInfo

MAX_XML_BYTES = 4 << 20
_MEMORY_UNITS = {"b": 1, "bytes": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1000, "m": 1 << 20, "mib": 1 << 20,
                 "mb": 1000**2, "g": 1 << 30, "gib": 1 << 30, "gb": 1000**3, "t": 1 << 40, "tib": 1 << 40}


@dataclass(frozen=True)
class DomainDisk:
    """A file-backed ``<disk device='disk'>`` of a domain: its id (target dev), file and format."""

    target: str
    bus: str
    path: Path
    format: str


@dataclass(frozen=True)
class Domain:
    """A parsed domain XML: the VmInfo it describes and where its disks live."""

    vm: VmInfo
    disks: tuple[DomainDisk, ...]

    def disk(self, disk_id: str) -> DomainDisk:
        for d in self.disks:
            if d.target == disk_id:
                return d
        raise ProviderError(f"domain {self.vm.name!r} has no disk {disk_id!r}")


def _memory_mb(node: ET.Element | None) -> int:
    if node is None or not (node.text or "").strip():
        return 512
    unit = _MEMORY_UNITS.get((node.get("unit") or "KiB").lower())
    if unit is None:
        raise ProviderError(f"unknown memory unit {node.get('unit')!r}")
    return max(1, int(node.text.strip()) * unit // (1 << 20))


def _os_type(root: ET.Element) -> OsType:
    text = " ".join(el.get("id") or "" for el in root.iter() if el.tag.endswith("}os")).lower()
    text += " " + (root.findtext("description") or "").lower()
    if "microsoft" in text or "windows" in text:
        return OsType.WINDOWS
    if any(word in text for word in ("linux", "debian", "ubuntu", "fedora", "redhat", "rhel", "centos", "suse",
                                     "rocky", "alma")):
        return OsType.LINUX
    return OsType.UNKNOWN


def _firmware(root: ET.Element) -> Firmware:
    os_el = root.find("os")
    if os_el is None:
        return Firmware.BIOS
    loader = os_el.find("loader")
    if os_el.get("firmware") == "efi" or (loader is not None and (
            loader.get("type") == "pflash" or "OVMF" in (loader.text or "") or "edk2" in (loader.text or ""))):
        return Firmware.EFI
    return Firmware.BIOS


def virtual_size(path: Path, fmt: str) -> int:
    """The guest-visible size of an image; ``--force-share`` so a running guest's disk can be inspected."""
    proc = subprocess.run(["qemu-img", "info", "--force-share", "--output=json", "-f", fmt, str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ProviderError(f"qemu-img info {path.name} ({fmt}) failed: {proc.stderr.strip()}")
    return int(json.loads(proc.stdout)["virtual-size"])


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(Path(os.path.realpath(r))) for r in roots)


def parse_domain(xml_path: Path, image_roots: tuple[Path, ...]) -> Domain:
    """A domain XML file as a ``Domain``; disk files must lie below one of ``image_roots``.

    Args:
        xml_path: the ``<name>.xml`` file (its stem is the instance id).
        image_roots: directories disk sources may name (relative sources are below the XML's).
    """
    if xml_path.stat().st_size > MAX_XML_BYTES:
        raise ProviderError(f"{xml_path.name}: larger than {MAX_XML_BYTES} bytes")
    try:
        root = fromstring(xml_path.read_bytes(), forbid_dtd=True)
    except (ET.ParseError, defusedxml.DefusedXmlException) as exc:
        raise ProviderError(f"{xml_path.name}: not a usable domain XML: {exc}") from None
    if root.tag != "domain":
        raise ProviderError(f"{xml_path.name}: the root element is <{root.tag}>, not <domain>")
    name = (root.findtext("name") or xml_path.stem).strip()
    vcpu = (root.findtext("vcpu") or "1").strip()
    disks: list[DomainDisk] = []
    infos: list[DiskInfo] = []
    buses: dict[str, None] = {}
    for index, el in enumerate(root.findall("devices/disk")):
        if el.get("device", "disk") != "disk":
            continue  # cdroms and floppies carry no guest data to move
        source, target, driver = el.find("source"), el.find("target"), el.find("driver")
        file_name = source.get("file") if source is not None else None
        if el.get("type", "file") != "file" or not file_name:
            raise ProviderError(f"{xml_path.name}: disk {index} is not file-backed (type {el.get('type')!r})")
        path = Path(file_name) if os.path.isabs(file_name) else xml_path.parent / file_name
        if not _inside(path, image_roots):
            raise ProviderError(f"{xml_path.name}: disk file {file_name} is outside the allowed image directories")
        fmt = (driver.get("type") if driver is not None else None) or "raw"
        if fmt not in ("qcow2", "raw"):
            raise ProviderError(f"{xml_path.name}: disk format {fmt!r} is not supported (qcow2 or raw)")
        dev = target.get("dev") if target is not None else None
        bus = (target.get("bus") if target is not None else None) or "virtio"
        dev = dev or f"disk{index}"
        size = virtual_size(path, fmt) if path.is_file() else 0
        if not size:
            raise ProviderError(f"{xml_path.name}: disk file {file_name} is missing or empty")
        disks.append(DomainDisk(dev, bus, path, fmt))
        buses[bus] = None
        infos.append(DiskInfo(id=dev, size_bytes=size, format=fmt, path=str(path), controller_id=bus,
                              unit_number=len(infos), allocation_type="thin" if fmt == "qcow2" else None))
    nics: list[NicInfo] = []
    for index, el in enumerate(root.findall("devices/interface")):
        mac, source, model = el.find("mac"), el.find("source"), el.find("model")
        network = ""
        if source is not None:
            network = source.get("network") or source.get("bridge") or source.get("dev") or ""
        nics.append(NicInfo(
            mac_address=((mac.get("address") if mac is not None else None) or "").lower(),
            network_name=network or el.get("type", ""), id=f"net{index}",
            name=(el.find("target").get("dev") if el.find("target") is not None else None),
            model=model.get("type") if model is not None else None,
        ))
    try:
        num_cpu = int(vcpu)
    except ValueError:
        raise ProviderError(f"{xml_path.name}: <vcpu> is not a number") from None
    vm = VmInfo(
        id=xml_path.stem, name=name, num_cpu=max(1, num_cpu), memory_mb=_memory_mb(root.find("memory")),
        os_type=_os_type(root), firmware_type=_firmware(root), disks=tuple(infos), nics=tuple(nics),
        controllers=tuple(ControllerInfo(id=bus, type=bus, bus_number=0) for bus in buses),  # libvirt: index 0
        hostname=name, power_state="unknown",
    )
    return Domain(vm, tuple(disks))
