"""Morph a copy of the real VMware-like Debian guest, then look inside the result (root, slow)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from morphing import MorphOptions, morph
from morphing.mount import GuestMount
from providers.types import NicInfo, NullReporter, TargetProfile, VmInfo
from tests.morphing.images import loops_on, mounts_under

pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mount, chroot)"),
]


@pytest.fixture(scope="module")
def guest():
    try:
        from tests.fixtures.guest import ensure_guest
    except ImportError:
        pytest.skip("the real guest fixture is not available")
    return ensure_guest()


def test_morph_real_guest(guest, tmp_path: Path) -> None:
    from tests.fixtures.guest import make_overlay

    overlay = make_overlay(guest, tmp_path)
    vm = VmInfo(id="vm-1", name=guest.hostname, nics=(NicInfo(guest.mac, guest.network_name),))
    reporter = NullReporter()
    started = time.monotonic()
    result = morph([(overlay, "qcow2")], vm, TargetProfile(), MorphOptions(preserve_static_ips=True), reporter)
    print(f"morph of the real guest: {time.monotonic() - started:.1f} s")
    assert result.os_info.distribution == "debian"
    assert "guest tools: purged open-vm-tools" in result.changes
    assert "drivers: rebuilt the initrd (update-initramfs -u -k all)" in result.changes

    with GuestMount([(overlay, "qcow2")], NullReporter()) as mounted:
        root = mounted.root
        initrds = sorted((root / "boot").glob("initrd.img-*"))
        listing = subprocess.run(
            ["chroot", str(root), "lsinitramfs", f"/boot/{initrds[-1].name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for module in ("virtio_blk", "virtio_net", "virtio_scsi", "virtio_pci"):
            assert f"/{module}.ko" in listing, module
        status = (root / "var/lib/dpkg/status").read_text()
        assert "Package: open-vm-tools\n" not in status
        assert not (root / "etc/vmware-tools").exists()
        fstab_root = [line for line in (root / "etc/fstab").read_text().splitlines() if " / " in f" {line} "]
        assert fstab_root and fstab_root[0].startswith(f"UUID={guest.fs_uuid}")
        assert f"root=UUID={guest.fs_uuid}" in (root / "boot/grub/grub.cfg").read_text()
        link = (root / "etc/systemd/network/10-coriolis-ens192.link").read_text()
        assert f"MACAddress={guest.mac}" in link and "Name=ens192" in link
        assert f"address {guest.static_ip}" in (root / "etc/network/interfaces").read_text()
        cloud = (root / "etc/cloud/cloud.cfg.d/99_coriolis.cfg").read_text()
        assert "datasource_list: [NoCloud, None]" in cloud
        assert "network: {config: disabled}" in cloud
    assert loops_on(tmp_path / "x") == []
    assert mounts_under("/tmp/coriolis-") == []
