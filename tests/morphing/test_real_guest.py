"""Morph a copy of the real VMware-like Debian guest in the appliance, then look inside the result (slow)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from morphing import MorphOptions, morph_tree
from morphing.appliance import Appliance
from morphing.morpher import guest_os_info
from morphing.sessions import processes_mentioning
from providers.types import NicInfo, NullReporter, TargetProfile, VmInfo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def guest():
    from tests.fixtures.guest import ensure_guest

    return ensure_guest()


def test_morph_real_guest(guest, tmp_path: Path) -> None:
    from tests.fixtures.guest import make_overlay

    overlay = make_overlay(guest, tmp_path)
    vm = VmInfo(id="vm-1", name=guest.hostname, nics=(NicInfo(guest.mac, guest.network_name),))
    reporter = NullReporter()
    started = time.monotonic()
    # one appliance session: the morph (as morph() runs it), then a look at the result
    with Appliance([(overlay, "qcow2")], reporter) as look:
        os_info = guest_os_info(look.tree, look.inspection)
        result = morph_tree(
            look.tree, look.devices, look.runner, vm, TargetProfile(), MorphOptions(preserve_static_ips=True),
            reporter, os_info,
        )  # fmt: skip
        print(f"morph of the real guest: {time.monotonic() - started:.1f} s; launch {look.launch_seconds:.1f} s")
        assert result.os_info.distribution == "debian"
        assert "guest tools: purged open-vm-tools" in result.changes
        # the guest's one kernel has an initrd without virtio: rebuilt, for that kernel
        kernels = [p.rsplit("/vmlinuz-", 1)[1] for p in look.tree.glob("/boot", "vmlinuz-*")]
        assert len(kernels) == 1
        kv = kernels[0]
        assert f"drivers: rebuilt /boot/initrd.img-{kv} (update-initramfs -u -k {kv})" in result.changes
        # libguestfs' inspection is reported; times per concern
        facts = look.inspection
        assert (facts.distro, facts.package_format, facts.firmware) == ("debian", "deb", "bios")
        assert facts.mountpoints == {"/": "/dev/sda1"}
        assert any(m.startswith("inspection: ") and "distro debian 12" in m for _, m in reporter.events)
        assert any(m.startswith("appliance: launched in") and "no network" in m for _, m in reporter.events)
        assert "drivers" in result.timings and "bootloader" in result.timings

        tree = look.tree
        initrds = tree.glob("/boot", "initrd.img-*")
        listing = look.runner.run(["lsinitramfs", initrds[-1]])
        for module in ("virtio_blk", "virtio_net", "virtio_scsi", "virtio_pci"):
            assert f"/{module}.ko" in listing, module
        assert "Package: open-vm-tools\n" not in (tree.read("/var/lib/dpkg/status") or "")
        assert not tree.exists("/etc/vmware-tools")
        fstab_root = [line for line in (tree.read("/etc/fstab") or "").splitlines() if " / " in f" {line} "]
        assert fstab_root and fstab_root[0].startswith(f"UUID={guest.fs_uuid}")
        assert f"root=UUID={guest.fs_uuid}" in (tree.read("/boot/grub/grub.cfg") or "")
        link = tree.read("/etc/systemd/network/10-coriolis-ens192.link") or ""
        assert f"MACAddress={guest.mac}" in link and "Name=ens192" in link
        assert f"address {guest.static_ip}" in (tree.read("/etc/network/interfaces") or "")
        cloud = tree.read("/etc/cloud/cloud.cfg.d/99_coriolis.cfg") or ""
        assert "datasource_list: [NoCloud, None]" in cloud
        assert "network: {config: disabled}" in cloud
        session = str(look.session)
    assert processes_mentioning(session) == [] and not Path(session).exists()
