"""Source domains for kvm tests: a libvirt domain XML (as ``virsh dumpxml`` writes it) over qcow2/raw files."""

from __future__ import annotations

import subprocess
from pathlib import Path

DOMAIN_XML = """<domain type='kvm'>
  <name>{name}</name>
  <uuid>6d6f7270-6869-6e67-2d66-697874757265</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os{firmware}>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
{disks}
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sdz' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:AA:BB:01'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:02'/>
      <source bridge='br-lan'/>
      <model type='e1000e'/>
    </interface>
  </devices>
</domain>
"""
DISK_XML = """    <disk type='file' device='disk'>
      <driver name='qemu' type='{fmt}'/>
      <source file='{path}'/>
      <target dev='{dev}' bus='{bus}'/>
    </disk>"""


def write_domain(folder: Path, name: str, disks: list[tuple[str, str, str, str, int]], efi: bool = False) -> Path:
    """``folder/<name>.xml`` and its disk files: each disk is (file name, format, dev, bus, size in bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for file_name, fmt, dev, bus, size in disks:
        path = folder / file_name
        if not path.exists():
            subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), str(size)], check=True)
        parts.append(DISK_XML.format(fmt=fmt, path=path, dev=dev, bus=bus))
    xml = folder / f"{name}.xml"
    xml.write_text(DOMAIN_XML.format(name=name, disks="\n".join(parts),
                                     firmware=" firmware='efi'" if efi else ""))
    return xml


def qemu_io_write(path: Path, fmt: str, writes: list[tuple[int, int, int]]) -> int:
    """Write through ``qemu-io`` (which updates the image's enabled bitmaps): (offset, length, pattern byte).

    Returns the bytes written.
    """
    args = ["qemu-io", "-f", fmt]
    for offset, length, pattern in writes:
        args += ["-c", f"write -P {pattern} {offset} {length}"]
    subprocess.run([*args, str(path)], check=True, capture_output=True)
    return sum(length for _o, length, _p in writes)
