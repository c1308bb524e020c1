"""User scripts: chosen by OS type and instance, run in the guest inside the appliance, outcome reported."""

from __future__ import annotations

import pytest

from morphing.appliance import Appliance
from morphing.errors import MorphError
from morphing.user_scripts import run_scripts, scripts_for
from providers.types import NullReporter, OsType

SCRIPTS = {
    "global": {"linux": "echo global-linux", "windows": "Write-Host windows"},
    "instances": {"vm-1": "echo vm-1", "vm-2": "echo vm-2"},
}


def test_scripts_for_picks_the_os_type_then_the_instance() -> None:
    assert scripts_for(SCRIPTS, OsType.LINUX, "vm-1") == [
        ("global linux", "echo global-linux"),
        ("instance vm-1", "echo vm-1"),
    ]
    assert scripts_for(SCRIPTS, OsType.WINDOWS, "vm-3") == [("global windows", "Write-Host windows")]
    assert scripts_for({}, OsType.LINUX, "vm-1") == [] and scripts_for(None, OsType.LINUX, "vm-1") == []
    assert scripts_for({"n": {"n": {}}, "global": "not a dict"}, OsType.LINUX, "vm-1") == []
    with pytest.raises(MorphError, match="user script instance vm-1 is not a script"):
        scripts_for({"instances": {"vm-1": {"nested": 1}}}, OsType.LINUX, "vm-1")


def test_scripts_for_reads_the_normalised_form_the_api_stores() -> None:
    from coriolis_api.resources.user_scripts import normalise

    stored = normalise({
        "global": {"linux": [{"phase": "osmorphing_pre_os_mount", "payload": "echo pre"}, {"payload": "echo post"}]},
        "instances": {"vm-1": "echo one"},
    })
    assert scripts_for(stored, OsType.LINUX, "vm-1") == [
        ("global linux #1", "echo pre"),
        ("global linux #2", "echo post"),
        ("instance vm-1", "echo one"),
    ]
    first_boot = normalise({"instances": {"vm-1": [{"phase": "replica_first_boot", "payload": "echo later"}]}})
    with pytest.raises(MorphError, match="phase replica_first_boot is not run here"):
        scripts_for(first_boot, OsType.LINUX, "vm-1")


@pytest.mark.slow
def test_scripts_run_in_the_guest_root_and_a_failure_fails_clearly(
    phony_appliance: tuple[Appliance, NullReporter],
) -> None:
    appliance = phony_appliance[0]
    reporter = NullReporter()
    script = "touch from-user-script\necho hello from $(pwd) on $(cat etc/hostname)\necho warn >&2\n"
    assert run_scripts([("instance vm-1", script)], appliance.tree, appliance.runner, reporter) == ["instance vm-1"]
    assert appliance.tree.exists("/from-user-script")
    assert reporter.events == [
        ("INFO", "user script instance vm-1: exit status 0; output:\nhello from / on phony\nwarn")
    ]
    assert appliance.tree.listdir("/var/lib/coriolis/user-scripts") == []

    failing = NullReporter()
    with pytest.raises(MorphError, match=r"user script global linux failed with exit status 3: .*broken"):
        run_scripts([("global linux", "echo broken; exit 3"), ("instance vm-1", "touch never")],
                    appliance.tree, appliance.runner, failing)  # fmt: skip
    assert failing.events == [("WARNING", "user script global linux: exit status 3; output:\nbroken")]
    assert not appliance.tree.exists("/never")
