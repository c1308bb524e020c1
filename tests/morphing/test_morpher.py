"""morph_tree end to end on plain trees: concern order, events, errors, cancellation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from morphing import MorphError, MorphOptions, MorphResult, morph_tree
from morphing.devices import BlockId
from morphing.runner import RecordingRunner
from providers.types import Cancelled, NullReporter, OsInfo, OsType, TargetProfile
from tests.morphing.conftest import GOLDEN, make_vm

UUID = "6d6f7270-6869-6e67-2d66-697874757265"


def debian_tree(root: Path) -> Path:
    for case in ("guest_tools", "drivers", "cloud_init_static", "bootloader"):
        shutil.copytree(GOLDEN / case / "input", root, dirs_exist_ok=True)
    (root / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    return root


def test_morph_tree_runs_every_concern_in_order(tmp_path: Path) -> None:
    root = debian_tree(tmp_path / "root")
    runner, reporter = RecordingRunner(), NullReporter()
    result = morph_tree(
        root,
        {"/dev/sda1": BlockId(UUID, "ext4")},
        runner,
        make_vm(),
        TargetProfile(),
        MorphOptions(preserve_static_ips=True, hostname="web01"),
        reporter,
    )
    assert result.fixer == "debian"
    assert result.os_info.distribution == "debian"
    messages = [m for _done, _total, m in reporter.steps]
    assert messages == [
        "morph: guest_tools",
        "morph: packages",
        "morph: network",
        "morph: cloud_init",
        "morph: hostname",
        "morph: bootloader",
        "morph: drivers",
        "morph: done",
    ]
    infos = [m for level, m in reporter.events if level == "INFO"]
    assert all(change in infos for change in result.changes)
    assert runner.calls == [
        ["dpkg", "--purge", "open-vm-tools"], ["env", "COMPRESSLEVEL=1", "update-initramfs", "-u", "-k", "all"]
    ]
    assert "network: {config: disabled}" in (root / "etc/cloud/cloud.cfg.d/99_coriolis.cfg").read_text()
    assert f"root=UUID={UUID}" in (root / "boot/grub/grub.cfg").read_text()
    assert MorphResult.from_dict(result.to_dict()) == result


def test_cancel_between_concerns(tmp_path: Path) -> None:
    root = debian_tree(tmp_path / "root")
    reporter = NullReporter()
    reporter.cancelled = True
    with pytest.raises(Cancelled):
        morph_tree(root, {}, RecordingRunner(), make_vm(), TargetProfile(), MorphOptions(), reporter)


def test_no_os_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(MorphError, match="no operating system found"):
        morph_tree(tmp_path, {}, RecordingRunner(), make_vm(), TargetProfile(), MorphOptions(), NullReporter())


def test_unsupported_family_names_what_was_found(tmp_path: Path) -> None:
    info = OsInfo(OsType.LINUX, "alpine", "3.19.1", "Alpine Linux v3.19")
    with pytest.raises(MorphError, match=r"unsupported OS: linux \(Alpine Linux v3.19\)"):
        morph_tree(tmp_path, {}, RecordingRunner(), make_vm(), TargetProfile(), MorphOptions(), NullReporter(), info)
    old = OsInfo(OsType.LINUX, "centos", "6.10", "CentOS release 6.10 (Final)")
    with pytest.raises(MorphError, match=r"CentOS release 6.10 \(Final\) is not supported"):
        morph_tree(tmp_path, {}, RecordingRunner(), make_vm(), TargetProfile(), MorphOptions(), NullReporter(), old)


def test_options_round_trip() -> None:
    options = MorphOptions(preserve_static_ips=True, hostname="h", remove_guest_tools=False)
    assert MorphOptions.from_dict(options.to_dict()) == options
    assert MorphOptions.from_dict({"unknown": 1}) == MorphOptions()


def test_extra_packages_are_refused_the_appliance_has_no_network() -> None:
    with pytest.raises(
        ValueError, match="extra_packages cannot be installed while morphing: the appliance has no network"
    ):
        MorphOptions(extra_packages=("qemu-guest-agent",))
    with pytest.raises(ValueError, match="qemu-guest-agent"):
        MorphOptions.from_dict({"extra_packages": ["qemu-guest-agent"]})
