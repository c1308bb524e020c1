"""Golden tests of the rpm families (Red Hat, SUSE) on phony trees for their version matrix.

Each case builds a phony guest from a recipe (``tests/morphing/families_redhat.py``, ``families_suse.py``;
real rpm databases), detects its OS, runs the fixer its OS picks with a recording runner, and compares the
tree with ``tests/morphing/families/<case>/expected`` and the guest commands with the case's list.
Regenerate the expected trees after a deliberate change with
``.venv/bin/python -m tests.morphing.test_families`` and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from morphing.changes import ChangeLog
from morphing.detect import detect_os
from morphing.errors import MorphError
from morphing.fixers import FixContext, find_fixer
from morphing.runner import RecordingRunner
from morphing.tree import LocalTree
from providers.types import NullReporter, OsInfo
from tests.morphing import phony
from tests.morphing.conftest import diff_trees, make_vm
from tests.morphing.families_redhat import REDHAT_CASES
from tests.morphing.families_suse import SUSE_CASES
from tests.morphing.family_case import FamilyCase

FAMILIES = Path(__file__).parent / "families"
SKIP = ("var/lib/coriolis", "var/lib/rpm", "usr/lib/sysimage/rpm")
CASES = {**REDHAT_CASES, **SUSE_CASES}


@pytest.fixture(scope="session")
def rpm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny packages are built (once per run: rpmbuild takes ~0.1 s each)."""
    return tmp_path_factory.mktemp("rpms")


def morph_case(root: Path, case: FamilyCase, rpm_cache: Path) -> tuple[OsInfo, str, RecordingRunner, NullReporter]:
    phony.build(root, case.guest, rpm_cache)
    os_info = detect_os(root)
    fixer_class = find_fixer(os_info)
    assert fixer_class is not None, os_info
    runner = RecordingRunner(case.outputs)
    reporter = NullReporter()
    ctx = FixContext(
        LocalTree(root),
        runner,
        case.devices,
        os_info,
        make_vm(case.nics),
        case.target,
        case.options,
        ChangeLog(reporter),
    )
    fixer = fixer_class(ctx)
    for concern in fixer.concerns:
        fixer.fix(concern)
    return os_info, fixer_class.name, runner, reporter


def test_every_expected_folder_is_a_case() -> None:
    assert sorted(p.name for p in FAMILIES.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_golden(name: str, tmp_path: Path, rpm_cache: Path) -> None:
    case = CASES[name]
    root = tmp_path / "root"
    os_info, fixer, runner, reporter = morph_case(root, case, rpm_cache)
    assert (os_info.distribution, os_info.version, fixer) == case.detected
    problems = diff_trees(root, FAMILIES / name / "expected", SKIP)
    assert not problems, "\n".join(problems)
    assert runner.calls == case.commands
    warnings = [m for level, m in reporter.events if level == "WARNING"]
    assert warnings == case.warnings


def regenerate() -> None:
    """Rewrite every expected tree from the fixers' current output (review the diff before committing)."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        cache = Path(work) / "rpms"
        cache.mkdir()
        for name, case in sorted(CASES.items()):
            root = Path(work) / name
            _os, _fixer, runner, reporter = morph_case(root, case, cache)
            phony.copy_expected(root, FAMILIES / name / "expected", SKIP)
            print(name, runner.calls, [m for level, m in reporter.events if level == "WARNING"], file=sys.stderr)


if __name__ == "__main__":
    regenerate()


def run_concerns(root: Path, case: FamilyCase, concerns: list[str]) -> NullReporter:
    os_info = detect_os(root)
    fixer_class = find_fixer(os_info)
    assert fixer_class is not None
    reporter = NullReporter()
    ctx = FixContext(
        LocalTree(root),
        RecordingRunner(),
        case.devices,
        os_info,
        make_vm(1),
        case.target,
        case.options,
        ChangeLog(reporter),
    )
    fixer = fixer_class(ctx)
    for concern in concerns:
        fixer.fix(concern)
    return reporter


@pytest.mark.parametrize("name", ["rhel8", "sles15", "rhel7"])
def test_boot_fixes_are_idempotent(name: str, tmp_path: Path, rpm_cache: Path) -> None:
    case = CASES[name]
    root = tmp_path / "root"
    morph_case(root, case, rpm_cache)
    reporter = run_concerns(root, case, ["bootloader", "selinux"])
    assert [m for level, m in reporter.events if level == "INFO"] == []
    assert not diff_trees(root, FAMILIES / name / "expected", SKIP)


def test_sles11_is_refused_clearly(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/SuSE-release").write_text("SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n")
    with pytest.raises(MorphError, match="mkinitrd, which Coriolis does not drive"):
        run_concerns(root, CASES["sles12"], [])
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["etc", "etc/SuSE-release"]


def test_guest_without_dracut_fails_clearly(tmp_path: Path, rpm_cache: Path) -> None:
    root = tmp_path / "root"
    phony.build(root, CASES["rhel9"].guest, rpm_cache)
    (root / "usr/bin/dracut").unlink()
    with pytest.raises(MorphError, match="dracut not found in the guest"):
        run_concerns(root, CASES["rhel9"], ["drivers"])


def test_morph_tree_picks_the_family_fixer(tmp_path: Path, rpm_cache: Path) -> None:
    from morphing.morpher import morph_tree
    from morphing.options import MorphOptions
    from providers.types import TargetProfile

    root = tmp_path / "root"
    phony.build(root, CASES["sles15"].guest, rpm_cache)
    reporter = NullReporter()
    result = morph_tree(
        root, CASES["sles15"].devices, RecordingRunner(), make_vm(1), TargetProfile(), MorphOptions(), reporter
    )
    assert (result.fixer, result.os_info.distribution, result.os_info.version) == ("suse", "sles", "15.2")
    assert (
        "uefi: copied /boot/efi/EFI/sles/shimx64.efi to the fallback path /boot/efi/EFI/BOOT/BOOTX64.EFI"
        in result.changes
    )
    assert not diff_trees(root, FAMILIES / "sles15" / "expected", SKIP)


def test_extra_packages_are_refused_aloud() -> None:
    # With the appliance (no network) the refusal comes before any fixer runs: MorphOptions rejects them.
    from morphing.options import MorphOptions

    with pytest.raises(ValueError, match="the appliance has no network"):
        MorphOptions(extra_packages=("qemu-guest-agent",))


def test_grubby_naming_a_vanishing_device_is_a_warning(tmp_path: Path, rpm_cache: Path) -> None:
    root = tmp_path / "root"
    phony.build(root, CASES["rhel9"].guest, rpm_cache)
    os_info = detect_os(root)
    reporter = NullReporter()
    runner = RecordingRunner({"grubby": 'index=0\nargs="ro resume=/dev/sdq2"\nroot="/dev/sdq1"\n'})
    case = CASES["rhel9"]
    ctx = FixContext(
        LocalTree(root), runner, case.devices, os_info, make_vm(1), case.target, case.options, ChangeLog(reporter)
    )
    find_fixer(os_info)(ctx).fix("bootloader")  # type: ignore[misc]
    assert runner.calls == [["grubby", "--info=DEFAULT"]]
    assert [m for level, m in reporter.events if level == "WARNING"] == [
        "bootloader: grubby says the default entry still names /dev/sdq1, which vanishes",
        "bootloader: grubby says the default entry still names /dev/sdq2, which vanishes",
    ]
