"""The appliance's accelerator: the setting wins, auto probes KVM once per host boot and caches it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from morphing import accel


def test_the_setting_overrides_the_probe(tmp_path: Path) -> None:
    assert accel.choose_accel("tcg", tmp_path) == ("tcg", "appliance_accel=tcg")
    assert accel.choose_accel("kvm", tmp_path) == ("kvm", "appliance_accel=kvm")
    assert not (tmp_path / accel.PROBE_FILE).exists()
    with pytest.raises(ValueError, match="appliance_accel must be one of auto, kvm, tcg"):
        accel.choose_accel("hvf", tmp_path)


def test_auto_reuses_the_probe_of_this_host_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = accel.newest_kernel()
    if kernel is None or not Path("/dev/kvm").exists():
        pytest.fail("needs /dev/kvm and a kernel in /boot (linux-image-amd64, deploy/packages/apt-test.txt)")
    probes: list[Path] = []

    def probe(kernel: Path, timeout: float = accel.PROBE_TIMEOUT) -> tuple[bool, str]:
        probes.append(kernel)
        return False, "probe says no"

    monkeypatch.setattr(accel, "probe_kvm", probe)
    assert accel.choose_accel("auto", tmp_path) == ("tcg", "probe says no")
    assert accel.choose_accel("auto", tmp_path) == ("tcg", "probe says no (probed earlier on this host)")
    assert probes == [kernel]
    # another boot (or kernel) of the host probes again
    cached = json.loads((tmp_path / accel.PROBE_FILE).read_text())
    cached["key"]["boot_id"] = "another-boot"
    (tmp_path / accel.PROBE_FILE).write_text(json.dumps(cached))
    accel.choose_accel("auto", tmp_path)
    assert len(probes) == 2


def test_a_kvm_that_hangs_is_unusable(tmp_path: Path) -> None:
    """A "kernel" that never prints (the hang nested KVM shows here) fails the probe within its bound."""
    kernel = tmp_path / "vmlinuz-silent"
    kernel.write_bytes(b"\0" * 4096)
    usable, why = accel.probe_kvm(kernel, timeout=5)
    assert not usable and ("within 5 s" in why or "KVM probe failed" in why)
