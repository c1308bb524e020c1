"""The network model: reading each config system, the NIC plan, and the netplan YAML reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from morphing.network import (
    IfaceConfig,
    ifupdown,
    keyfile,
    netplan,
    networkd,
    normalize_mac,
    plan_nics,
    prefix_of,
    yamlish,
)
from morphing.network.systems import detect_system
from morphing.tree import LocalTree
from providers.types import NicInfo
from tests.morphing.conftest import GOLDEN, MAC1, MAC2


def tree(case: str) -> LocalTree:
    return LocalTree(GOLDEN / case / "input")


def test_read_ifupdown_follows_source() -> None:
    found = ifupdown.read(tree("ifupdown_static"))
    assert found == [
        IfaceConfig(
            "ens192",
            None,
            False,
            False,
            ["192.168.10.20/24"],
            "192.168.10.1",
            None,
            ["192.168.10.2", "1.1.1.1"],
            ["corp.example"],
        ),
        IfaceConfig("ens224", None, False, False, ["10.20.0.5/16"]),
    ]


def test_read_netplan_routes_and_match() -> None:
    (config,) = netplan.read(tree("netplan_dhcp"))
    assert (config.name, config.gateway4, config.dns) == ("ens160", "192.168.10.1", ["192.168.10.2"])
    (config,) = netplan.read(tree("netplan_static"))
    assert (config.mac, config.addresses) == (MAC1, ["192.168.10.21/24"])


def test_read_networkd_and_keyfile() -> None:
    (nd,) = networkd.read(tree("networkd_static"))
    assert (nd.name, nd.dns, nd.search) == ("ens192", ["192.168.10.2", "1.1.1.1"], ["corp.example"])
    (nm,) = keyfile.read(tree("keyfile_static"))
    assert (nm.name, nm.addresses, nm.gateway4, nm.dhcp6) == ("ens192", ["192.168.10.23/24"], "192.168.10.1", True)


@pytest.mark.parametrize(
    ("case", "system"),
    [
        ("ifupdown_static", "ifupdown"),
        ("netplan_static", "netplan"),
        ("networkd_static", "networkd"),
        ("keyfile_static", "networkmanager"),
        ("hostname", "networkd"),
    ],
)
def test_detect_system(case: str, system: str) -> None:
    assert detect_system(tree(case)) == system


def test_plan_matches_mac_before_name_before_order() -> None:
    found = [
        IfaceConfig("eth0", addresses=["10.0.0.1/24"]),
        IfaceConfig("eth1", mac=MAC2, addresses=["10.0.1.1/24"]),
        IfaceConfig("lan", addresses=["10.0.2.1/24"]),
    ]
    nics = [NicInfo(MAC1, "n", name="lan"), NicInfo(MAC2.upper(), "n"), NicInfo("00:50:56:aa:bb:03", "n")]
    plans = plan_nics(found, nics, preserve_static=True)
    assert [(p.name, p.mac, p.config.addresses) for p in plans] == [
        ("lan", MAC1, ["10.0.2.1/24"]),
        ("eth1", MAC2, ["10.0.1.1/24"]),
        ("eth0", "00:50:56:aa:bb:03", ["10.0.0.1/24"]),
    ]


def test_plan_dhcp_and_unknown_nics() -> None:
    plans = plan_nics([IfaceConfig("ens192", addresses=["10.0.0.1/24"])], [NicInfo(MAC1, "n")], False)
    assert plans[0].config == IfaceConfig("ens192", MAC1, dhcp4=True)
    (anything,) = plan_nics([IfaceConfig("ens192", addresses=["10.0.0.1/24"])], [], False)
    assert (anything.mac, anything.config.dhcp4) == (None, True)


def test_helpers() -> None:
    assert normalize_mac("00-50-56-AA-BB-01") == MAC1
    assert normalize_mac("bogus") is None
    assert prefix_of("255.255.252.0") == 22
    assert prefix_of("16") == 16


def test_yaml_reader() -> None:
    text = """
network:
  version: 2
  ethernets:
    id0:
      match: {macaddress: "00:50:56:aa:bb:01", name: 'en*'}
      addresses: [10.0.0.2/24, "fe80::2/64"]   # comment
      dhcp6: yes
      routes:
      - to: default
        via: 10.0.0.1
        metric: 100
"""
    data = yamlish.loads(text)["network"]
    eth = data["ethernets"]["id0"]
    assert data["version"] == 2
    assert eth["match"] == {"macaddress": MAC1, "name": "en*"}
    assert eth["addresses"] == ["10.0.0.2/24", "fe80::2/64"]
    assert eth["dhcp6"] is True
    assert eth["routes"] == [{"to": "default", "via": "10.0.0.1", "metric": 100}]


def test_yaml_reader_refuses_what_it_does_not_know() -> None:
    with pytest.raises(yamlish.YamlError):
        yamlish.loads("a: |\n  text\n")


def test_netplan_wildcard_when_no_nics(tmp_path: Path) -> None:
    guest = LocalTree(tmp_path)
    netplan.write(guest, plan_nics([], [], False))
    text = (tmp_path / "etc/netplan/90-coriolis.yaml").read_text()
    assert 'name: "e*"' in text and "dhcp4: true" in text
