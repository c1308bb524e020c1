"""Builders for synthetic OVAs and VMX folders used by the ova provider tests."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from providers.ova import make_exporter
from providers.ova.source import OvaExporter

MIB = 1 << 20
CAPACITY = 8 * MIB


@dataclass
class Disk:
    """A disk to describe in an OVF: ``capacity`` in bytes, ``href`` the member name."""

    disk_id: str
    href: str
    capacity: int
    file_size: int | None = None
    units: str = "byte"
    controller: str = "4"
    unit: int = 0


@dataclass
class Nic:
    mac: str
    network: str
    model: str = "VmxNet3"


@dataclass
class Spec:
    name: str = "web01"
    cpus: int = 2
    memory_mb: int = 2048
    os_type: str = "debian11_64Guest"
    os_description: str = "Debian GNU/Linux 11 (64-bit)"
    firmware: str | None = None
    scsi: str = "VirtualSCSI"
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)


def make_raw(path: Path, size: int = 8 * MIB, data: int = 3 * MIB) -> Path:
    """A sparse raw disk with ``data`` bytes of random content in the middle."""
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(MIB)
        f.write(os.urandom(data))
    return path


def make_vmdk(raw: Path, out: Path, subformat: str = "streamOptimized") -> Path:
    subprocess.run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}",
         str(raw), str(out)],
        check=True,
    )
    return out


def ovf_xml(spec: Spec, prolog: str = "") -> str:
    """A VMware-flavoured OVF 1.0 envelope for ``spec``."""
    files = "".join(
        f'<File ovf:id="file{i}" ovf:href="{d.href}"'
        + (f' ovf:size="{d.file_size}"' if d.file_size is not None else "")
        + "/>"
        for i, d in enumerate(spec.disks)
    )
    disks = "".join(
        f'<Disk ovf:diskId="{d.disk_id}" ovf:fileRef="file{i}" ovf:capacity="{d.capacity}" '
        f'ovf:capacityAllocationUnits="{d.units}" '
        'ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>'
        for i, d in enumerate(spec.disks)
    )
    items = [
        ("3", "1", f"<rasd:VirtualQuantity>{spec.cpus}</rasd:VirtualQuantity>"),
        ("4", "2", "<rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>"
         f"<rasd:VirtualQuantity>{spec.memory_mb}</rasd:VirtualQuantity>"),
        ("6", "4", f"<rasd:ResourceSubType>{spec.scsi}</rasd:ResourceSubType>"),
        ("5", "5", "<rasd:Address>0</rasd:Address>"),
    ]
    for i, d in enumerate(spec.disks):
        items.append(("17", str(10 + i),
                      f"<rasd:AddressOnParent>{d.unit}</rasd:AddressOnParent>"
                      f"<rasd:HostResource>ovf:/disk/{d.disk_id}</rasd:HostResource>"
                      f"<rasd:Parent>{d.controller}</rasd:Parent>"))
    for i, n in enumerate(spec.nics):
        items.append(("10", str(20 + i),
                      f"<rasd:Address>{n.mac}</rasd:Address><rasd:Connection>{n.network}</rasd:Connection>"
                      f"<rasd:ElementName>Network adapter {i + 1}</rasd:ElementName>"
                      f"<rasd:ResourceSubType>{n.model}</rasd:ResourceSubType>"))
    hardware = "".join(
        f"<Item><rasd:InstanceID>{iid}</rasd:InstanceID><rasd:ResourceType>{rt}</rasd:ResourceType>{body}</Item>"
        for rt, iid, body in items
    )
    if spec.firmware:
        hardware += f'<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="{spec.firmware}"/>'
    networks = "".join(f'<Network ovf:name="{n}"/>' for n in sorted({n.network for n in spec.nics}))
    return f"""<?xml version="1.0" encoding="UTF-8"?>{prolog}
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
 xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
 xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
 xmlns:vmw="http://www.vmware.com/schema/ovf">
 <References>{files}</References>
 <DiskSection><Info>Virtual disks</Info>{disks}</DiskSection>
 <NetworkSection><Info>Networks</Info>{networks}</NetworkSection>
 <VirtualSystem ovf:id="{spec.name}">
  <Info>A virtual machine</Info><Name>{spec.name}</Name>
  <OperatingSystemSection ovf:id="96" vmw:osType="{spec.os_type}">
   <Info>The OS</Info><Description>{spec.os_description}</Description>
  </OperatingSystemSection>
  <VirtualHardwareSection><Info>Hardware</Info>{hardware}</VirtualHardwareSection>
 </VirtualSystem>
</Envelope>
"""


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def write_ova(
    path: Path,
    ovf: str,
    members: dict[str, bytes | Path],
    *,
    manifest: bool = True,
    digest_override: dict[str, str] | None = None,
) -> Path:
    """An OVA: the OVF first, then ``members`` (bytes or files), then an optional SHA256 manifest."""
    ovf_name = f"{path.stem}.ovf"
    digests = {ovf_name: hashlib.sha256(ovf.encode()).hexdigest()}
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        add_bytes(tar, ovf_name, ovf.encode())
        for name, content in members.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            digests[name] = hashlib.sha256(data).hexdigest()
            add_bytes(tar, name, data)
        if manifest:
            digests.update(digest_override or {})
            text = "".join(f"SHA256({n})= {d}\n" for n, d in digests.items())
            add_bytes(tar, f"{path.stem}.mf", text.encode())
    return path


def simple_ova(path: Path, vmdk: Path, capacity: int, **spec_args: object) -> Path:
    """One-disk, one-NIC OVA around ``vmdk``."""
    spec = Spec(
        disks=[Disk("vmdisk1", "disk1.vmdk", capacity, vmdk.stat().st_size)],
        nics=[Nic("00:50:56:aa:bb:01", "VM Network")],
        **spec_args,  # type: ignore[arg-type]
    )
    return write_ova(path, ovf_xml(spec), {"disk1.vmdk": vmdk})


def write_vmx_folder(folder: Path, raw: Path, *, firmware: str = "efi", disk_name: str = "vm.vmdk") -> Path:
    """A VMX folder with a monolithicSparse disk (``disk_name`` may point outside)."""
    folder.mkdir(parents=True)
    if "/" not in disk_name:
        make_vmdk(raw, folder / disk_name, "monolithicSparse")
    (folder / "vm.vmx").write_text(
        ".encoding = \"UTF-8\"\n"
        'displayName = "db|2d01"\n'
        'numvcpus = "4"\n'
        'memsize = "4096"\n'
        f'firmware = "{firmware}"\n'
        'guestOS = "windows2019srv-64"\n'
        'scsi0.present = "TRUE"\n'
        'scsi0.virtualDev = "lsisas1068"\n'
        'scsi0:0.present = "TRUE"\n'
        f'scsi0:0.fileName = "{disk_name}"\n'
        'ide1:0.present = "TRUE"\n'
        'ide1:0.deviceType = "cdrom-image"\n'
        'ide1:0.fileName = "install.iso"\n'
        'ethernet0.present = "TRUE"\n'
        'ethernet0.virtualDev = "e1000e"\n'
        'ethernet0.networkName = "Prod"\n'
        'ethernet0.addressType = "generated"\n'
        'ethernet0.generatedAddress = "00:0C:29:12:34:56"\n'
    )
    return folder


def exporter(root: Path, chunk_size: int = MIB) -> OvaExporter:
    """An ova exporter over ``root`` copying in small chunks (so progress shows)."""
    exp = make_exporter({"path": str(root)}, {})
    exp.chunk_size = chunk_size
    return exp
