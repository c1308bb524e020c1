"""Golden-file tests: the Debian fixer's file edits on guest trees, compared with expected trees."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from morphing.changes import ChangeLog
from morphing.devices import BlockId
from morphing.fixers import FixContext
from morphing.fixers.debian import DebianFixer
from morphing.options import MorphOptions
from morphing.runner import RecordingRunner
from morphing.tree import BACKUP_DIR, LocalTree
from providers.registry import get_provider
from providers.types import NullReporter, OsInfo, OsType, TargetProfile
from tests.morphing.conftest import GOLDEN, diff_trees, make_vm

UUID_A = "0a1b2c3d-0000-4000-8000-00000000000a"
UUID_B = "0a1b2c3d-0000-4000-8000-00000000000b"
UUID_C = "0a1b2c3d-0000-4000-8000-00000000000c"
DEVICES = {
    "/dev/sda1": BlockId(UUID_A, "ext4"),
    "/dev/sda5": BlockId(UUID_B, "swap"),
    "/dev/sdb1": BlockId(UUID_C, "ext4"),
}


@dataclass
class Case:
    concerns: list[str]
    nics: int = 1
    options: MorphOptions = field(default_factory=MorphOptions)
    target: TargetProfile = field(default_factory=TargetProfile)
    commands: list[list[str]] = field(default_factory=list)


STATIC = MorphOptions(preserve_static_ips=True)
CASES = {
    "ifupdown_static": Case(["network"], nics=2, options=STATIC),
    "ifupdown_dhcp": Case(["network"], nics=2),
    "netplan_static": Case(["network"], nics=2, options=STATIC),
    "netplan_dhcp": Case(["network"]),
    # the layouts of Ubuntu's releases: cloud-init's (18.04, 24.04) and subiquity's (20.04, 22.04)
    "netplan_ubuntu1804": Case(["network"]),
    "netplan_ubuntu2004": Case(["network"], options=STATIC),
    "netplan_ubuntu2204": Case(["network"], options=STATIC),
    "netplan_ubuntu2404": Case(["network"]),
    "networkd_static": Case(["network"], options=STATIC),
    "keyfile_static": Case(["network"], options=STATIC),
    "bootloader": Case(["bootloader"]),
    "cloud_init_static": Case(
        ["network", "cloud_init"],
        options=STATIC,
        target=TargetProfile(cloud_init_datasources=("ConfigDrive", "OpenStack")),
    ),
    "cloud_init_dhcp": Case(["cloud_init"]),
    "guest_tools": Case(["guest_tools"], commands=[["dpkg", "--purge", "open-vm-tools"]]),
    "drivers": Case(["drivers"], commands=[["env", "COMPRESSLEVEL=1", "update-initramfs", "-u", "-k", "all"]]),
    # what the gcp destination asks for: virtio-scsi and NVMe disks, gVNIC (the gve module)
    "drivers_gcp": Case(["drivers"], target=get_provider("gcp").importer({}, {}).target_profile(make_vm(1)),
                        commands=[["env", "COMPRESSLEVEL=1", "update-initramfs", "-u", "-k", "all"]]),
    "hostname": Case(["hostname"], options=MorphOptions(hostname="web01")),
}


def run_case(root: Path, case: Case) -> tuple[RecordingRunner, NullReporter]:
    runner = RecordingRunner()
    reporter = NullReporter()
    os_info = OsInfo(OsType.LINUX, "debian", "12", "Debian GNU/Linux 12 (bookworm)", "x86_64")
    ctx = FixContext(
        LocalTree(root), runner, DEVICES, os_info, make_vm(case.nics), case.target, case.options, ChangeLog(reporter)
    )
    fixer = DebianFixer(ctx)
    for concern in case.concerns:
        fixer.fix(concern)
    return runner, reporter


def test_every_golden_folder_is_a_case() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, guest_copy) -> None:
    root = guest_copy(name)
    case = CASES[name]
    runner, reporter = run_case(root, case)
    problems = diff_trees(root, GOLDEN / name / "expected")
    assert not problems, "\n".join(problems)
    assert runner.calls == case.commands
    infos = [message for level, message in reporter.events if level == "INFO"]
    assert infos, "every case changes something, and each change is an event"


def test_network_files_moved_to_backup(guest_copy) -> None:
    root = guest_copy("netplan_static")
    run_case(root, CASES["netplan_static"])
    backup = root / BACKUP_DIR / "etc/netplan/50-cloud-init.yaml"
    assert backup.read_text() == (GOLDEN / "netplan_static/input/etc/netplan/50-cloud-init.yaml").read_text()
    assert (root / "etc/netplan/90-coriolis.yaml").stat().st_mode & 0o777 == 0o600


def test_keyfile_mode_is_private(guest_copy) -> None:
    root = guest_copy("keyfile_static")
    run_case(root, CASES["keyfile_static"])
    path = root / "etc/NetworkManager/system-connections/coriolis-ens192.nmconnection"
    assert path.stat().st_mode & 0o777 == 0o600


def test_bootloader_warns_about_unknown_device(guest_copy) -> None:
    root = guest_copy("bootloader")
    _runner, reporter = run_case(root, CASES["bootloader"])
    warnings = [m for level, m in reporter.events if level == "WARNING"]
    assert warnings == ["fstab: /dev/sdc1 not found on the migrated disks; left as is"]
    infos = [m for level, m in reporter.events if level == "INFO"]
    assert f"fstab: /dev/sda1 (/) is now UUID={UUID_A}" in infos
    assert f"/boot/grub/grub.cfg: resume=/dev/sda5 is now resume=UUID={UUID_B}" in infos


def test_second_run_changes_nothing_more(guest_copy) -> None:
    root = guest_copy("bootloader")
    run_case(root, CASES["bootloader"])
    _runner, reporter = run_case(root, CASES["bootloader"])
    assert [m for level, m in reporter.events if level == "INFO"] == []
    assert not diff_trees(root, GOLDEN / "bootloader" / "expected")


def test_guest_tools_policy_removed_after_purge(guest_copy) -> None:
    root = guest_copy("guest_tools")
    run_case(root, CASES["guest_tools"])
    assert not (root / "usr/sbin/policy-rc.d").exists()


def test_guest_tools_kept_when_asked(guest_copy) -> None:
    root = guest_copy("guest_tools")
    runner, _reporter = run_case(root, Case(["guest_tools"], options=MorphOptions(remove_guest_tools=False)))
    assert runner.calls == []
    assert (root / "etc/vmware-tools/tools.conf").exists()


def test_warning_when_the_destination_changes_the_macs(guest_copy) -> None:
    root = guest_copy("netplan_static")
    case = Case(["network"], nics=2, options=STATIC, target=TargetProfile(keeps_macs=False))
    _runner, reporter = run_case(root, case)
    warnings = [m for level, m in reporter.events if level == "WARNING"]
    assert len(warnings) == 1
    assert "matched by MAC (00:50:56:aa:bb:01, 00:50:56:aa:bb:02)" in warnings[0]
    assert "does not keep the source MACs" in warnings[0]
