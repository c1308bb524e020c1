"""The appliance on a phony two-disk guest: inspection, mounts, device names, guest programs (one shared launch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from morphing.appliance import Appliance
from morphing.errors import MorphError
from morphing.sessions import processes_mentioning
from providers.types import NullReporter
from tests.morphing import images
from tests.morphing.conftest import SYSLOG

pytestmark = [pytest.mark.slow]


def test_inspection_facts_are_reported(phony_appliance: tuple[Appliance, NullReporter]) -> None:
    appliance, reporter = phony_appliance
    facts = appliance.inspection
    assert (facts.os_type, facts.distro, facts.package_format, facts.firmware) == ("linux", "debian", "deb", "bios")
    assert facts.version == "12.5" and facts.hostname == "phony"
    # mounted in mountpoint order, / first
    assert list(facts.mountpoints) == ["/", "/srv", "/var/log"]
    assert facts.mountpoints["/"] == "/dev/sda1" and facts.mountpoints["/var/log"] == "/dev/sdb1"
    infos = [m for level, m in reporter.events if level == "INFO"]
    assert any(m.startswith("appliance: launched in") and "no network" in m for m in infos)
    assert any(
        m.startswith("inspection: ") and "distro debian 12.5" in m and "/var/log on /dev/sdb1" in m for m in infos
    )


def test_a_failing_optional_mount_is_a_warning(phony_appliance: tuple[Appliance, NullReporter]) -> None:
    appliance, reporter = phony_appliance
    warnings = [m for level, m in reporter.events if level == "WARNING"]
    assert any("optional mount /srv (/dev/sda2) failed" in m for m in warnings), warnings
    # the mounts after it still happened: /var/log comes from the second disk
    assert appliance.tree.read("/var/log/syslog") == SYSLOG


def test_device_map_names_what_the_appliance_sees(phony_appliance: tuple[Appliance, NullReporter]) -> None:
    devices = phony_appliance[0].devices
    for name in ("/dev/sda1", "/dev/hda1", "/dev/vda1", "/dev/xvda1"):
        assert devices[name].uuid == images.ROOT_UUID and devices[name].fstype == "ext4"
    assert devices["/dev/sda2"].uuid == images.SRV_UUID
    assert devices["/dev/sdb1"].uuid == images.LOG_UUID and devices["/dev/sdb1"].label == "guestlogs"


def test_guest_symlinks_resolve_inside_the_guest(phony_appliance: tuple[Appliance, NullReporter]) -> None:
    tree = phony_appliance[0].tree
    guest_shadow = "root:guest-shadow-line:19000:0:99999:7:::\n"
    assert tree.read("/etc/evil-abs") == guest_shadow
    assert tree.read("/etc/evil-rel") == guest_shadow
    assert tree.readlink("/etc/evil-abs") == "/etc/shadow" and tree.is_symlink("/etc/evil-rel")
    assert Path("/etc/shadow").read_text() != guest_shadow


def test_guest_programs_run_in_the_appliance_without_network(phony_appliance: tuple[Appliance, NullReporter]) -> None:
    runner = phony_appliance[0].runner
    # the guest's own /etc/shadow, the appliance's kernel, no NIC but lo
    assert "guest-shadow-line" in runner.run(["cat", "/etc/shadow"])
    assert runner.run(["cat", "/proc/version"]) != Path("/proc/version").read_text()
    assert runner.run(["ls", "/sys/class/net"]).split() == ["lo"]
    assert "PATH=/usr/local/sbin" in runner.run(["sh", "-c", "echo PATH=$PATH"])
    with pytest.raises(MorphError, match="guest command 'sh -c echo oops >&2; exit 3' failed.*oops"):
        runner.run(["sh", "-c", "echo oops >&2; exit 3"])


def test_a_disk_without_format_is_refused_and_leaves_nothing(phony_disks: list[tuple[Path, str]]) -> None:
    """A disk without a format is refused before anything starts; nothing is left of a session."""
    appliance = Appliance([(phony_disks[0][0], "")], NullReporter(), readonly=True)
    with pytest.raises(MorphError, match="never probed"), appliance:
        pass
    assert appliance.session.name.startswith("coriolis-appliance-")
    assert not appliance.session.exists() and processes_mentioning(str(appliance.session)) == []
