"""Tests for OVF and VMX parsing details: units, OS guesses, hostile XML."""

from __future__ import annotations

import pytest

from providers.ova.ovf import guess_os_type, load_xml, parse_ovf, parse_units
from providers.ova.vmx import parse_vmx
from providers.types import OsType, ProviderError
from tests.providers.ova.appliance import Disk, Spec, ovf_xml


@pytest.mark.parametrize(
    ("text", "factor"),
    [(None, 1), ("byte", 1), ("byte * 2^30", 1 << 30), ("byte*2^20", 1 << 20), ("MegaBytes", 1 << 20),
     ("byte * 1024", 1024), ("byte * 2^10 * 1000", 1024000)],
)
def test_allocation_units(text: str | None, factor: int) -> None:
    assert parse_units(text) == factor


@pytest.mark.parametrize("text", ["byte * 2^99", "furlongs", "byte * 10^60"])
def test_absurd_allocation_units_are_refused(text: str) -> None:
    with pytest.raises(ProviderError):
        parse_units(text)


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        (("debian11_64Guest",), OsType.LINUX),
        (("windows2019srv_64Guest",), OsType.WINDOWS),
        (("other", "Microsoft Windows Server 2016 (64-bit)"), OsType.WINDOWS),
        (("centos8_64Guest",), OsType.LINUX),
        (("otherGuest", None), OsType.UNKNOWN),
        (("darwin19_64Guest",), OsType.UNKNOWN),
    ],
)
def test_os_type_guess(hints: tuple[str | None, ...], expected: OsType) -> None:
    assert guess_os_type(*hints) == expected


def test_billion_laughs_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Envelope>&lol2;</Envelope>'
    )
    with pytest.raises(ProviderError, match="forbidden XML"):
        load_xml(bomb.encode())


def test_external_entity_is_refused() -> None:
    xxe = '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><Envelope>&x;</Envelope>'
    with pytest.raises(ProviderError, match="forbidden XML"):
        load_xml(xxe.encode())


def test_malformed_xml_is_refused() -> None:
    with pytest.raises(ProviderError, match="not well-formed"):
        load_xml(b"<Envelope><References>")


def test_capacity_units_multiply() -> None:
    spec = Spec(disks=[Disk("vmdisk1", "disk1.vmdk", 8, units="byte * 2^20")])
    desc = parse_ovf(ovf_xml(spec).encode(), "x.ova")
    assert desc.disks[0].capacity_bytes == 8 << 20
    assert desc.vm.disks[0].size_bytes == 8 << 20


@pytest.mark.parametrize("href", ["../disk1.vmdk", "/etc/passwd", "http://evil/disk.vmdk", "sub/disk.vmdk"])
def test_file_references_must_be_plain_names(href: str) -> None:
    spec = Spec(disks=[Disk("vmdisk1", href, 1 << 20)])
    with pytest.raises(ProviderError, match="not a plain file name"):
        parse_ovf(ovf_xml(spec).encode(), "x.ova")


def test_disk_ids_must_be_safe_file_names() -> None:
    spec = Spec(disks=[Disk("../../etc/cron.d/x", "disk1.vmdk", 1 << 20)])
    with pytest.raises(ProviderError, match="not a plain identifier"):
        parse_ovf(ovf_xml(spec).encode(), "x.ova")


def test_vmx_values_are_unescaped_and_keys_lowercased() -> None:
    keys = parse_vmx('displayName = "a|22b|7c"\nnumvcpus = "2"\ngarbage line\n')
    assert keys == {"displayname": 'a"b|', "numvcpus": "2"}
