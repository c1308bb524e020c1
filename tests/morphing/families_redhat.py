"""The Red Hat family's golden cases (RHEL 7-9, Fedora, CentOS, Rocky, AlmaLinux, Oracle Linux): one phony-guest
recipe per version, and what to expect."""

from __future__ import annotations

from providers.types import TargetProfile
from tests.morphing.family_case import MAC1, STATIC, UUID_ROOT, UUID_SWAP, FamilyCase, dracut
from tests.morphing.phony import Guest

BY_ID_BOOT = "/dev/disk/by-id/scsi-36000c29a1b2c3d4e5f60718293a4b5c6-part2"
BY_PATH_DATA = "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1"


def os_release(ident: str, version: str, pretty: str, like: str = "rhel fedora") -> str:
    return f'NAME="{pretty.split(" release")[0]}"\nVERSION="{version}"\nID="{ident}"\nID_LIKE="{like}"\n' + (
        f'VERSION_ID="{version}"\nPRETTY_NAME="{pretty}"\nANSI_COLOR="0;31"\n'
    )


def fstab(lvm: bool, uefi: bool) -> str:
    root = "/dev/mapper/rhel-root" if lvm else "/dev/sda3"
    swap = "/dev/mapper/rhel-swap" if lvm else "/dev/sda4"
    lines = [
        "#",
        "# /etc/fstab",
        "# Created by anaconda",
        "#",
        f"{root}   /                       xfs     defaults        0 0",
        f"{BY_ID_BOOT} /boot                   xfs     defaults        0 0",
    ]
    if uefi:
        lines.append("/dev/sda1          /boot/efi               vfat    umask=0077,shortname=winnt 0 2")
    lines += [
        f"{swap}   none                    swap    defaults        0 0",
        f"{BY_PATH_DATA} /data xfs defaults,nofail 0 0",
    ]
    return "\n".join(lines) + "\n"


def ifcfg_static(name: str, mac: str, address: str = "10.20.30.40") -> str:
    return (
        "TYPE=Ethernet\nPROXY_METHOD=none\nBROWSER_ONLY=no\nBOOTPROTO=none\nDEFROUTE=yes\nIPV4_FAILURE_FATAL=no\n"
        f"IPV6INIT=no\nNAME={name}\nUUID=8b1f4c52-6e0a-4c1d-9d55-2f1f0c6d7a10\nDEVICE={name}\nONBOOT=yes\n"
        f"IPADDR={address}\nNETMASK=255.255.255.0\nGATEWAY=10.20.30.1\nDNS1=10.20.30.2\nDOMAIN=corp.example\n"
        f"HWADDR={mac.upper()}\n"
    )


def ifcfg_dhcp(name: str, mac: str | None = None) -> str:
    text = f'TYPE="Ethernet"\nBOOTPROTO="dhcp"\nNAME="{name}"\nDEVICE="{name}"\nONBOOT="yes"\nIPV6INIT="yes"\n'
    return text + (f'HWADDR="{mac}"\n' if mac else "")


def keyfile_static(name: str, mac: str) -> str:
    return (
        f"[connection]\nid={name}\nuuid=2c8e5a9b-3f41-4c7e-8b0d-6a2f9e1c7d34\ntype=ethernet\ninterface-name={name}\n\n"
        f"[ethernet]\nmac-address={mac.upper()}\n\n"
        "[ipv4]\naddress1=10.20.30.40/24,10.20.30.1\ndns=10.20.30.2;\ndns-search=corp.example;\nmethod=manual\n\n"
        "[ipv6]\naddr-gen-mode=eui64\nmethod=auto\n\n[proxy]\n"
    )


def keyfile_dhcp(name: str, mac: str) -> str:
    return (
        f"[connection]\nid={name}\nuuid=9a0c7e21-55b4-4f6e-a3d8-1b7c2e4f6a80\ntype=ethernet\n\n"
        f"[ethernet]\nmac-address={mac.upper()}\n\n[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n"
    )


SELINUX = "# This file controls the state of SELinux on the system.\nSELINUX={mode}\nSELINUXTYPE=targeted\n"
NETSCRIPTS = "/etc/sysconfig/network-scripts"
NM = "/etc/NetworkManager/system-connections"
OVT = ("open-vm-tools", "12.2.0", "1.el9")
RHEL7_KV = "3.10.0-1160.105.1.el7.x86_64"
# what the guest's grubby prints for the default entry once the morph has fixed it
GRUBBY_RHEL9 = (
    'index=0\nkernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"\n'
    f'args="ro resume=UUID={UUID_SWAP} crashkernel=1G-4G:192M"\nroot="UUID={UUID_ROOT}"\n'
    'initrd="/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img"\ntitle="Red Hat Enterprise Linux (5.14.0) 9.3 (Plow)"\n'
)
RHEL8_KV = "4.18.0-513.5.1.el8_9.x86_64"
RHEL9_KV = "5.14.0-362.8.1.el9_3.x86_64"
REDHAT_CASES: dict[str, FamilyCase] = {
    # RHEL 7: BIOS, no BLS (linux16 entries), /dev/sdX kernel args, BerkeleyDB rpmdb, ifcfg static.
    "rhel7": FamilyCase(
        Guest(
            os_release("rhel", "7.9", "Red Hat Enterprise Linux Server release 7.9 (Maipo)"),
            [RHEL7_KV],
            kernel_package="kernel",
            packages=[("open-vm-tools", "11.0.5", "3.el7_9.9")],
            rpmdb="bdb",
            bls=False,
            cmdline="root=/dev/sda3 ro resume=/dev/sda4",
            files={
                "/etc/redhat-release": "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
                "/etc/fstab": fstab(lvm=False, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NETSCRIPTS}/ifcfg-ens192": ifcfg_static("ens192", MAC1),
                f"{NETSCRIPTS}/ifcfg-lo": "DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\nNAME=loopback\n",
            },
        ),
        ("rhel", "7.9", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut(RHEL7_KV)],
        options=STATIC,
    ),
    # RHEL 8: UEFI with only the vendor path, BLS entries with $kernelopts in grubenv, BerkeleyDB.
    "rhel8": FamilyCase(
        Guest(
            os_release("rhel", "8.9", "Red Hat Enterprise Linux 8.9 (Ootpa)"),
            [RHEL8_KV, "4.18.0-477.10.1.el8_8.x86_64"],
            packages=[("open-vm-tools", "12.2.5", "3.el8"), ("open-vm-tools-desktop", "12.2.5", "3.el8")],
            rpmdb="bdb",
            uefi_vendor="redhat",
            cmdline="root=/dev/mapper/rhel-root ro resume=/dev/sda4 rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap",
            kernelopts_in_grubenv=True,
            files={
                "/etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
                "/etc/fstab": fstab(lvm=True, uefi=True),
                "/etc/selinux/config": SELINUX.format(mode="permissive"),
                f"{NETSCRIPTS}/ifcfg-ens192": ifcfg_dhcp("ens192", MAC1.upper()),
            },
        ),
        ("rhel", "8.9", "redhat"),
        [
            ["rpm", "-e", "--nodeps", "open-vm-tools", "open-vm-tools-desktop"],
            dracut("4.18.0-477.10.1.el8_8.x86_64"),
            dracut(RHEL8_KV),
        ],
    ),
    # RHEL 9: BIOS + BLS with the device in every entry and /etc/kernel/cmdline, sqlite, keyfile static.
    "rhel9": FamilyCase(
        Guest(
            os_release("rhel", "9.3", "Red Hat Enterprise Linux 9.3 (Plow)"),
            [RHEL9_KV],
            packages=[OVT],
            cmdline="root=/dev/sda3 ro resume=/dev/sda4 crashkernel=1G-4G:192M",
            kernel_cmdline_file=True,
            files={
                "/etc/redhat-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n",
                "/etc/fstab": fstab(lvm=False, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NM}/ens192.nmconnection": keyfile_static("ens192", MAC1),
                "/usr/sbin/grubby": "#!/bin/sh\n# phony grubby\n",
            },
        ),
        ("rhel", "9.3", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], ["grubby", "--info=DEFAULT"], dracut(RHEL9_KV)],
        options=STATIC,
        outputs={"grubby": GRUBBY_RHEL9},
    ),
    # Fedora 39: rpmdb under /usr/lib/sysimage/rpm, UEFI vendor path only, keyfile, a destination
    # that does not keep the MACs (a warning).
    "fedora39": FamilyCase(
        Guest(
            os_release("fedora", "39", "Fedora Linux 39 (Server Edition)", like=""),
            ["6.5.6-300.fc39.x86_64"],
            packages=[("open-vm-tools", "12.3.0", "1.fc39")],
            rpmdb="sysimage",
            uefi_vendor="fedora",
            cmdline="root=UUID=5d8c3a1e-0000-4000-8000-0000000000a0 ro rootflags=subvol=root",
            kernel_cmdline_file=True,
            files={
                "/etc/fedora-release": "Fedora release 39 (Thirty Nine)\n",
                "/etc/fstab": fstab(lvm=False, uefi=True),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NM}/Wired connection 1.nmconnection": keyfile_dhcp("Wired connection 1", MAC1),
            },
        ),
        ("fedora", "39", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut("6.5.6-300.fc39.x86_64")],
        target=TargetProfile(keeps_macs=False),
        warnings=[
            "network: the guest's network configuration is matched by MAC (00:50:56:aa:bb:01) but the destination "
            "does not keep the source MACs: those NICs stay unconfigured unless the destination NICs are given "
            "these MACs"
        ],
    ),
    # CentOS 7: VMware Tools from the tarball, two NICs (static + DHCP), stale udev name rules.
    "centos7": FamilyCase(
        Guest(
            os_release("centos", "7", "CentOS Linux release 7.9.2009 (Core)"),
            ["3.10.0-1160.el7.x86_64"],
            kernel_package="kernel",
            rpmdb="bdb",
            bls=False,
            cmdline="root=/dev/sda3 ro",
            files={
                "/etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
                "/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n",
                "/etc/fstab": fstab(lvm=False, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="disabled"),
                f"{NETSCRIPTS}/ifcfg-eth0": ifcfg_static("eth0", MAC1),
                f"{NETSCRIPTS}/ifcfg-eth1": ifcfg_dhcp("eth1"),
                "/etc/udev/rules.d/70-persistent-net.rules": (
                    '# PCI device 0x15ad:0x07b0 (vmxnet3)\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", '
                    f'ATTR{{address}}=="{MAC1}", ATTR{{type}}=="1", KERNEL=="eth*", NAME="eth0"\n'
                    '# PCI device 0x15ad:0x07b0 (vmxnet3)\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", '
                    'ATTR{address}=="00:50:56:aa:bb:99", ATTR{type}=="1", KERNEL=="eth*", NAME="eth1"\n'
                ),
                "/usr/bin/vmware-uninstall-tools.pl": "#!/usr/bin/perl\n# phony VMware Tools uninstaller\n",
                "/etc/vmware-tools/tools.conf": "[logging]\nlog = true\n",
                "/etc/init.d/vmware-tools": "#!/bin/sh\n# phony\n",
            },
        ),
        ("centos", "7", "redhat"),
        [["/usr/bin/vmware-uninstall-tools.pl"], dracut("3.10.0-1160.el7.x86_64")],
        nics=2,
        options=STATIC,
    ),
    # CentOS Stream 9: keyfile DHCP, BLS, sqlite.
    "centos_stream9": FamilyCase(
        Guest(
            os_release("centos", "9", "CentOS Stream 9"),
            ["5.14.0-391.el9.x86_64"],
            packages=[("open-vm-tools", "12.3.0", "1.el9")],
            cmdline="root=/dev/mapper/cs-root ro resume=/dev/mapper/cs-swap rd.lvm.lv=cs/root",
            kernel_cmdline_file=True,
            files={
                "/etc/centos-release": "CentOS Stream release 9\n",
                "/etc/redhat-release": "CentOS Stream release 9\n",
                "/etc/fstab": fstab(lvm=True, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NM}/ens192.nmconnection": keyfile_dhcp("ens192", MAC1),
            },
        ),
        ("centos", "9", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut("5.14.0-391.el9.x86_64")],
    ),
    # Rocky 9: UEFI whose ESP already has the removable path (left alone), ifcfg kept from an upgrade.
    "rocky9": FamilyCase(
        Guest(
            os_release("rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)"),
            [RHEL9_KV],
            packages=[OVT],
            uefi_vendor="rocky",
            cmdline="root=/dev/sda3 ro",
            kernel_cmdline_file=True,
            files={
                "/etc/rocky-release": "Rocky Linux release 9.3 (Blue Onyx)\n",
                "/etc/redhat-release": "Rocky Linux release 9.3 (Blue Onyx)\n",
                "/etc/fstab": fstab(lvm=False, uefi=True),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                "/boot/efi/EFI/BOOT/BOOTX64.EFI": "phony shim of the removable path\n",
                "/boot/efi/EFI/BOOT/fbx64.efi": "phony fallback\n",
                f"{NETSCRIPTS}/ifcfg-ens192": ifcfg_static("ens192", MAC1, "10.20.30.41"),
            },
        ),
        ("rocky", "9.3", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut(RHEL9_KV)],
        options=STATIC,
    ),
    # AlmaLinux 8: BerkeleyDB, BLS with kernelopts, ifcfg DHCP.
    "almalinux8": FamilyCase(
        Guest(
            os_release("almalinux", "8.9", "AlmaLinux 8.9 (Midnight Oncilla)"),
            ["4.18.0-513.9.1.el8_9.x86_64"],
            rpmdb="bdb",
            cmdline="root=/dev/mapper/almalinux-root ro resume=/dev/sda4",
            kernelopts_in_grubenv=True,
            files={
                "/etc/almalinux-release": "AlmaLinux release 8.9 (Midnight Oncilla)\n",
                "/etc/redhat-release": "AlmaLinux release 8.9 (Midnight Oncilla)\n",
                "/etc/fstab": fstab(lvm=True, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NETSCRIPTS}/ifcfg-ens192": ifcfg_dhcp("ens192", MAC1),
            },
        ),
        ("almalinux", "8.9", "redhat"),
        [dracut("4.18.0-513.9.1.el8_9.x86_64")],
    ),
    # Oracle Linux 8 with the UEK kernel.
    "ol8": FamilyCase(
        Guest(
            os_release("ol", "8.9", "Oracle Linux Server 8.9"),
            ["5.15.0-200.131.27.el8uek.x86_64"],
            kernel_package="kernel-uek-core",
            packages=[("open-vm-tools", "12.2.5", "3.el8")],
            rpmdb="bdb",
            cmdline="root=/dev/mapper/ol-root ro resume=/dev/mapper/ol-swap rd.lvm.lv=ol/root",
            kernelopts_in_grubenv=True,
            files={
                "/etc/oracle-release": "Oracle Linux Server release 8.9\n",
                "/etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
                "/etc/fstab": fstab(lvm=True, uefi=False),
                "/etc/selinux/config": SELINUX.format(mode="enforcing"),
                f"{NETSCRIPTS}/ifcfg-ens192": ifcfg_static("ens192", MAC1),
            },
        ),
        ("ol", "8.9", "redhat"),
        [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut("5.15.0-200.131.27.el8uek.x86_64")],
        options=STATIC,
    ),
}
