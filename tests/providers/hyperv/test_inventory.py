"""Inventory mapping: generation to firmware and Secure Boot, disks, pass-through, NICs, services."""

from __future__ import annotations

import pytest

from providers.hyperv.inventory import describe, firmware_of, mac_of, secure_boot_of
from providers.types import Firmware, VmInfo


@pytest.mark.parametrize(("generation", "secure", "firmware", "secure_boot"), [
    (1, None, Firmware.BIOS, False),
    (2, "On", Firmware.EFI, True),
    (2, "Off", Firmware.EFI, False),
    (2, True, Firmware.EFI, True),  # SCVMM's SecureBootEnabled is a boolean
    (1, "On", Firmware.BIOS, False),  # generation 1 has no UEFI, whatever is claimed
])
def test_generation_maps_to_firmware_and_secure_boot(generation, secure, firmware, secure_boot):
    assert firmware_of(generation) is firmware
    assert secure_boot_of(generation, secure) is secure_boot


GEN2 = {
    "Id": "3d1c5a4e-0000-4000-8000-000000000002", "Name": "web01", "Generation": 2, "State": "Running",
    "ProcessorCount": 4, "MemoryStartup": 4294967296, "SecureBoot": "On",
    "HardDrives": [
        {"ControllerType": "SCSI", "ControllerNumber": 0, "ControllerLocation": 0, "DiskNumber": None,
         "Path": "C:\\VMs\\web01.vhdx", "Size": 42949672960, "VhdFormat": "VHDX", "VhdType": "Dynamic",
         "ParentPath": None},
        {"ControllerType": "SCSI", "ControllerNumber": 0, "ControllerLocation": 1, "DiskNumber": 3,
         "Path": None, "Size": None, "VhdFormat": None, "VhdType": None, "ParentPath": None},
    ],
    "NetworkAdapters": {"Id": "Microsoft:X\\Y", "Name": "Network Adapter", "MacAddress": "00155D0A0B0C",
                        "SwitchName": "External", "VlanId": 20, "IsLegacy": False, "IPAddresses": "10.0.0.5"},
    "IntegrationServices": [{"Name": "Heartbeat", "Enabled": True}, {"Name": "Guest Service Interface",
                                                                      "Enabled": False}],
}


def test_a_generation_2_vm_is_described_for_the_api():
    vm = describe(GEN2)
    assert vm.firmware_type is Firmware.EFI and vm.secure_boot is True
    assert (vm.num_cpu, vm.memory_mb, vm.power_state) == (4, 4096, "running")
    system, passthrough = vm.disks
    assert (system.id, system.format, system.allocation_type, system.size_bytes) == (
        "SCSI-0-0", "vhdx", "dynamic", 42949672960)
    assert (passthrough.id, passthrough.allocation_type, passthrough.path) == ("SCSI-0-1", "passthrough", None)
    (nic,) = vm.nics  # one adapter comes as an object, not a list
    assert (nic.mac_address, nic.network_name, nic.vlan_id, nic.ip_addresses) == (
        "00:15:5d:0a:0b:0c", "External", 20, ("10.0.0.5",))
    assert vm.guest_services == ("Heartbeat",)
    again = VmInfo.from_dict(vm.to_dict())
    assert again == vm and vm.to_dict()["secure_boot"] is True


def test_mac_formats():
    assert mac_of("00-15-5D-01-02-03") == mac_of("00155d010203") == "00:15:5d:01:02:03"
