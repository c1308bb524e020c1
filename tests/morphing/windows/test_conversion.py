"""The Windows conversion on synthetic system trees: hive edits, files copied, first-boot scripts.

Each tested version's result is compared with golden exports (the SYSTEM keys the conversion
writes, the files it adds, every first-boot script); ``CORIOLIS_UPDATE_GOLDEN=1`` rewrites them
for review. Refusals are checked to leave the tree byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import hivex
import pytest

from morphing import MorphError, MorphOptions, Toolkit, morph_tree
from morphing.registry import Hive, export_reg
from morphing.runner import RecordingRunner
from providers.types import NicInfo, NullReporter, OsType, TargetProfile, VmInfo
from tests.fixtures.windows.guest import NIC2_GUID, NIC_GUID, VERSIONS, StaticNic, WindowsSpec, build_tree
from tests.fixtures.windows.toolkit import build_msi, build_virtio_win, build_virtio_win_iso, build_wrapper, placeholder

GOLDEN = Path(__file__).parent / "golden"
MAC = "00:50:56:aa:bb:cc"
OPENSTACK = TargetProfile(cloud_init_datasources=("OpenStack", "ConfigDrive", "None"))
KVM = TargetProfile()


@pytest.fixture(scope="module")
def toolkit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toolkit")
    build_virtio_win(root / "virtio-win")
    build_wrapper(root / "virt-tools" / "rhsrvany.exe")
    build_msi(root / "CloudbaseInitSetup_x64.msi")
    build_virtio_win_iso(root / "virtio-win", root / "virtio-win.iso")
    return root


def toolkit(root: Path, iso: bool = False, cloudbase: bool = True) -> Toolkit:
    return Toolkit(
        virtio_win=str(root / ("virtio-win.iso" if iso else "virtio-win")),
        firstboot_service=str(root / "virt-tools"),
        cloudbase_init=str(root / "CloudbaseInitSetup_x64.msi") if cloudbase else None,
    )


def vm(macs: tuple[str, ...] = (MAC,)) -> VmInfo:
    nics = tuple(NicInfo(m, "VM Network", name=f"Network adapter {i + 1}") for i, m in enumerate(macs))
    return VmInfo(id="vm-win", name="win", os_type=OsType.WINDOWS, nics=nics)


def convert(root: Path, kit: Toolkit, target: TargetProfile = OPENSTACK, machine: VmInfo | None = None, **options):
    reporter = NullReporter()
    options.setdefault("preserve_static_ips", True)
    result = morph_tree(
        root, {}, RecordingRunner(), machine or vm(), target, MorphOptions(**options), reporter, toolkit=kit
    )
    return result, reporter


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def system(root: Path) -> Hive:
    return Hive(hivex.Hivex(str(root / "Windows/System32/config/SYSTEM")))


def golden_export(root: Path) -> dict[str, str]:
    """What the golden files hold: the keys written, the files added, each script."""
    hive = system(root)
    cs = "ControlSet002"
    keys = [f"{cs}\\Services\\viostor", f"{cs}\\Services\\CoriolisFirstboot", "DriverDatabase"]
    out = {"system.reg": "\n".join(export_reg(hive, k) for k in keys if hive.exists(k))}
    added = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and str(p.relative_to(root)).startswith(("Windows/Drivers", "Program Files/Coriolis"))
    )
    out["files.txt"] = "\n".join(added) + "\n"
    for script in sorted((root / "Program Files/Coriolis/Firstboot/scripts").glob("*")):
        out[f"scripts/{script.name}"] = script.read_bytes().decode()
    out["firstboot.cmd"] = (root / "Program Files/Coriolis/Firstboot/firstboot.cmd").read_bytes().decode()
    return out


def check_golden(case: str, actual: dict[str, str]) -> None:
    folder = GOLDEN / case
    if os.environ.get("CORIOLIS_UPDATE_GOLDEN"):
        for name, text in actual.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(text.encode())
    expected = {str(p.relative_to(folder)): p.read_bytes().decode() for p in folder.rglob("*") if p.is_file()}
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], f"{case}/{name} differs from the golden file"


@pytest.mark.parametrize("version", ["2k12r2", "2k19", "2k22", "w11"])
def test_conversion_matches_golden(tmp_path: Path, toolkit_dir: Path, version: str) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS[version]))
    result, reporter = convert(root, toolkit(toolkit_dir))
    assert result.fixer == "windows"
    assert result.os_info.os_type == OsType.WINDOWS
    check_golden(version, golden_export(root))
    # what Windows needs to boot from virtio-blk, checked value by value (independent of the golden text)
    hive = system(root)
    assert hive.get(r"ControlSet002\Services\viostor", "Start") == 0
    assert hive.get(r"ControlSet002\Services\viostor", "Type") == 1
    assert hive.get(r"ControlSet002\Services\viostor", "Group") == "SCSI miniport"
    assert hive.get(r"ControlSet002\Services\viostor", "ImagePath") == r"system32\drivers\viostor.sys"
    assert not hive.exists(r"ControlSet001\Services\viostor"), "the stale control set was edited"
    inf = hive.subkeys(r"DriverDatabase\DeviceIds\PCI\VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00")
    assert hive.values(r"DriverDatabase\DeviceIds\PCI\VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00")
    assert inf == []
    assert hive.get(r"ControlSet002\Services\CoriolisFirstboot", "Start") == 2
    # the right build was copied: bytes name the version folder
    tag = VERSIONS[version].tag
    assert (root / "Windows/System32/drivers/viostor.sys").read_bytes() == placeholder(
        f"viostor/{tag}/amd64/viostor.sys"
    )
    assert not (root / "Windows/Drivers/VirtIO/viostor.pdb").exists()
    assert not (root / "Windows/Drivers/VirtIO/vioprot.inf").exists()
    warnings = [m for level, m in reporter.events if level == "WARNING"]
    assert warnings == []


def test_first_boot_scripts_say_what_to_do(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    convert(root, toolkit(toolkit_dir))
    scripts = {p.name: p.read_bytes().decode() for p in (root / "Program Files/Coriolis/Firstboot/scripts").iterdir()}
    assert list(sorted(scripts)) == [
        "00-install-drivers.cmd",
        "10-install-qemu-ga.cmd",
        "20-uninstall-vmware.cmd",
        "30-static-ip.ps1",
        "40-install-cloudbase-init.cmd",
    ]
    assert "pnputil.exe /add-driver" in scripts["00-install-drivers.cmd"]
    assert "msiexec.exe /x {F32C4E7B-2BF8-4788-8408-824C6896E1BB} /qn /norestart" in scripts["20-uninstall-vmware.cmd"]
    ps = scripts["30-static-ip.ps1"]
    assert "Set-CoriolisStatic '00:50:56:aa:bb:cc' @(@('192.168.78.20', 24)) @('192.168.78.1')" in ps
    assert "@('192.168.78.1', '9.9.9.9')" in ps
    assert all("\r\n" in text for text in scripts.values())
    conf = (root / "Program Files/Coriolis/Firstboot/cloudbase-init.conf").read_text()
    assert "metadata_services=cloudbaseinit.metadata.services.httpservice.HttpService," in conf
    assert "ConfigDriveService" in conf
    params = r"ControlSet002\Services\CoriolisFirstboot\Parameters"
    assert system(root).get(params, "CommandLine") == r'cmd.exe /c "C:\Program Files\Coriolis\Firstboot\firstboot.cmd"'
    assert (root / "Program Files/Coriolis/Firstboot/rhsrvany.exe").read_bytes()[:2] == b"MZ"


def test_iso_gives_the_same_result_as_the_tree(tmp_path: Path, toolkit_dir: Path) -> None:
    a = build_tree(tmp_path / "a", WindowsSpec(VERSIONS["2k22"]))
    b = build_tree(tmp_path / "b", WindowsSpec(VERSIONS["2k22"]))
    convert(a, toolkit(toolkit_dir))
    convert(b, toolkit(toolkit_dir, iso=True))
    assert golden_export(a) == golden_export(b)
    assert snapshot(a / "Windows/Drivers") == snapshot(b / "Windows/Drivers")


def test_kvm_target_without_metadata_service_installs_no_cloudbase_init(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    convert(root, toolkit(toolkit_dir), target=KVM)
    assert not (root / "Program Files/Coriolis/Firstboot/CloudbaseInitSetup.msi").exists()
    names = [p.name for p in (root / "Program Files/Coriolis/Firstboot/scripts").iterdir()]
    assert "40-install-cloudbase-init.cmd" not in names


@pytest.mark.parametrize("bus", ["virtio-scsi", "gce"])  # gce: Compute Engine's persistent disks are virtio-scsi
def test_virtio_scsi_target_registers_vioscsi(tmp_path: Path, toolkit_dir: Path, bus: str) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    convert(root, toolkit(toolkit_dir), target=TargetProfile(disk_bus=bus))
    hive = system(root)
    assert hive.get(r"ControlSet002\Services\vioscsi", "Start") == 0
    assert not hive.exists(r"ControlSet002\Services\viostor")
    assert hive.exists(r"DriverDatabase\DeviceIds\PCI\VEN_1AF4&DEV_1048&REV_01")


def test_hive_without_driver_database_gets_critical_device_entries(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"], driver_database=False))
    convert(root, toolkit(toolkit_dir))
    hive = system(root)
    cdd = r"ControlSet002\Control\CriticalDeviceDatabase\PCI#VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00"
    assert hive.get(cdd, "Service") == "viostor"
    assert hive.get(cdd, "ClassGUID") == "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
    assert not hive.exists("DriverDatabase")


def test_hyperv_target_needs_no_virtio_win(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    kit = Toolkit(virtio_win=None, firstboot_service=str(toolkit_dir / "virt-tools"))
    result, _ = convert(root, kit, target=TargetProfile(disk_bus="hyperv", nic_model="hyperv"))
    assert any("in-box" in change for change in result.changes)
    assert not (root / "Windows/Drivers/VirtIO").exists()
    assert (root / "Program Files/Coriolis/Firstboot/scripts/00-uninstall-vmware.cmd").exists()


def test_registry_mac_wins_and_unmatched_adapters_are_warned(tmp_path: Path, toolkit_dir: Path) -> None:
    nics = (
        StaticNic(
            NIC_GUID, 1, "10.0.0.5", "255.255.0.0", "10.0.0.1", ("10.0.0.2",), network_address="02-11-22-33-44-55"
        ),
        StaticNic(NIC2_GUID, 2, "10.1.0.5", "255.255.255.0", "10.1.0.1", ()),
    )
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"], nics=nics))
    _, reporter = convert(root, toolkit(toolkit_dir), machine=vm((MAC,)))
    ps = (root / "Program Files/Coriolis/Firstboot/scripts/30-static-ip.ps1").read_text()
    assert "Set-CoriolisStatic '02:11:22:33:44:55' @(@('10.0.0.5', 16))" in ps
    assert "10.1.0.5" not in ps
    assert any(NIC2_GUID in m for level, m in reporter.events if level == "WARNING")


def test_static_ips_not_kept_unless_asked(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    result, _ = convert(root, toolkit(toolkit_dir), preserve_static_ips=False)
    assert not (root / "Program Files/Coriolis/Firstboot/scripts/30-static-ip.ps1").exists()
    assert any("will use DHCP" in c for c in result.changes)


def test_missing_cloudbase_init_is_a_warning(tmp_path: Path, toolkit_dir: Path) -> None:
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS["2k19"]))
    _, reporter = convert(root, toolkit(toolkit_dir, cloudbase=False))
    assert any("cloudbase_init_msi is not set" in m for level, m in reporter.events if level == "WARNING")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unsupported", "unsupported Windows version: Windows Server 2008 R2 Standard (6.1 build 7601"),
        ("no-virtio-win", "virtio_win is not set"),
        ("virtio-win-missing", "virtio-win not found at"),
        ("no-build", "has no viostor driver for 2k22/amd64"),
        ("no-wrapper", "firstboot_service must name rhsrvany.exe or pvvxsvc.exe"),
        ("corrupt-hive", "cannot read the registry hive"),
        ("no-select", "no Select\\Current value"),
    ],
)
def test_refusals_leave_the_guest_untouched(tmp_path: Path, toolkit_dir: Path, case: str, message: str) -> None:
    version = "2k8r2" if case == "unsupported" else "2k19"
    root = build_tree(tmp_path / "c", WindowsSpec(VERSIONS[version]))
    kit = toolkit(toolkit_dir)
    if case == "no-virtio-win":
        kit = Toolkit(None, kit.firstboot_service, kit.cloudbase_init)
    elif case == "virtio-win-missing":
        kit = Toolkit(str(tmp_path / "nowhere"), kit.firstboot_service)
    elif case == "no-build":
        only_old = build_virtio_win(tmp_path / "old", versions=("2k19",))
        root = build_tree(tmp_path / "c2", WindowsSpec(VERSIONS["2k22"]))
        kit = Toolkit(str(only_old), kit.firstboot_service)
    elif case == "no-wrapper":
        kit = Toolkit(kit.virtio_win, str(tmp_path / "no-wrapper"))
    elif case == "corrupt-hive":
        hive = root / "Windows/System32/config/SYSTEM"
        data = bytearray(hive.read_bytes())
        data[4096:4100] = b"XXXX"  # the first hive bin's signature
        hive.write_bytes(bytes(data))
    elif case == "no-select":
        handle = hivex.Hivex(str(root / "Windows/System32/config/SYSTEM"), write=True)
        handle.node_delete_child(handle.node_get_child(handle.root(), "Select"))
        handle.commit(None)
    before = snapshot(root)
    with pytest.raises(MorphError) as raised:
        convert(root, kit)
    assert message in str(raised.value)
    assert snapshot(root) == before
