"""Host paths mapped to UNC paths: administrative shares, named shares, SMB3 storage, refusals."""

from __future__ import annotations

import pytest

from providers.hyperv.smb import file_format, unc_path
from providers.types import ProviderError

SHARES = {"D:\\VMs": "\\\\fs01\\vms", "D:\\VMs\\fast": "\\\\fs02\\fast\\"}


@pytest.mark.parametrize(("path", "unc"), [
    ("C:\\Hyper-V\\Virtual Hard Disks\\a.vhdx", "\\\\hv01\\C$\\Hyper-V\\Virtual Hard Disks\\a.vhdx"),
    ("e:/vms/b.vhd", "\\\\hv01\\E$\\vms\\b.vhd"),
    ("D:\\VMs\\web\\c.vhdx", "\\\\fs01\\vms\\web\\c.vhdx"),
    ("d:\\vms\\FAST\\d.vhdx", "\\\\fs02\\fast\\d.vhdx"),  # the longest folder wins, case-insensitively
    ("D:\\VMsX\\e.vhdx", "\\\\hv01\\D$\\VMsX\\e.vhdx"),  # a prefix of a name is not its folder
    ("\\\\sofs\\vmstore\\f.vhdx", "\\\\sofs\\vmstore\\f.vhdx"),  # SMB3 storage: read where it is
])
def test_paths_map_to_shares(path, unc):
    assert unc_path("hv01", path, SHARES) == unc


@pytest.mark.parametrize("path", ["C:\\VMs\\..\\Windows\\x.vhdx", "relative\\x.vhdx", "/etc/passwd"])
def test_odd_paths_are_refused(path):
    with pytest.raises(ProviderError):
        unc_path("hv01", path, {})


def test_formats_come_from_the_file_name():
    assert [file_format(p) for p in ("a.VHDX", "b.vhd", "c.avhdx", "d.raw")] == ["vhdx", "vhd", "vhdx", None]
