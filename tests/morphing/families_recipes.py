"""The version matrix of the rpm-family golden tests: one phony-guest recipe per case, and what to expect."""

from __future__ import annotations

from dataclasses import dataclass, field

from morphing.devices import BlockId
from morphing.options import MorphOptions
from providers.types import TargetProfile
from tests.morphing.phony import Guest

UUID_BOOT = "5d8c3a1e-0000-4000-8000-0000000000b0"
UUID_ROOT = "5d8c3a1e-0000-4000-8000-0000000000a0"
UUID_SWAP = "5d8c3a1e-0000-4000-8000-0000000000c0"
UUID_DATA = "5d8c3a1e-0000-4000-8000-0000000000d0"
ESP_UUID = "7B77-95E7"
# sda1 ESP (UEFI guests), sda2 /boot, sda3 root (guests without LVM), sda4 swap, sdb1 data.
DEVICES = {
    "/dev/sda1": BlockId(ESP_UUID, "vfat"),
    "/dev/sda2": BlockId(UUID_BOOT, "xfs"),
    "/dev/sda3": BlockId(UUID_ROOT, "xfs"),
    "/dev/sda4": BlockId(UUID_SWAP, "swap"),
    "/dev/sdb1": BlockId(UUID_DATA, "xfs"),
}
DRIVERS = "virtio_pci virtio_blk virtio_scsi virtio_net virtio_console"
STATIC = MorphOptions(preserve_static_ips=True)
BY_ID_BOOT = "/dev/disk/by-id/scsi-36000c29a1b2c3d4e5f60718293a4b5c6-part2"
BY_PATH_DATA = "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1"


@dataclass
class FamilyCase:
    """A phony guest, the morph's inputs, and what must come out besides the expected tree."""

    guest: Guest
    detected: tuple[str, str, str]
    commands: list[list[str]]
    nics: int = 1
    options: MorphOptions = field(default_factory=MorphOptions)
    target: TargetProfile = field(default_factory=TargetProfile)
    warnings: list[str] = field(default_factory=list)
    devices: dict[str, BlockId] = field(default_factory=lambda: DEVICES)
    outputs: dict[str, str] = field(default_factory=dict)


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
MAC1 = "00:50:56:aa:bb:01"
MAC2 = "00:50:56:aa:bb:02"
NETSCRIPTS = "/etc/sysconfig/network-scripts"
NM = "/etc/NetworkManager/system-connections"
OVT = ("open-vm-tools", "12.2.0", "1.el9")


def dracut(kv: str, image: str = "/boot/initramfs-{kv}.img") -> list[str]:
    return ["dracut", "-f", "--add-drivers", DRIVERS, image.format(kv=kv), kv]


RHEL7_KV = "3.10.0-1160.105.1.el7.x86_64"
# what the guest's grubby prints for the default entry once the morph has fixed it
GRUBBY_RHEL9 = (
    'index=0\nkernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"\n'
    f'args="ro resume=UUID={UUID_SWAP} crashkernel=1G-4G:192M"\nroot="UUID={UUID_ROOT}"\n'
    'initrd="/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img"\ntitle="Red Hat Enterprise Linux (5.14.0) 9.3 (Plow)"\n'
)
RHEL8_KV = "4.18.0-513.5.1.el8_9.x86_64"
RHEL9_KV = "5.14.0-362.8.1.el9_3.x86_64"
CASES: dict[str, FamilyCase] = {
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


# SUSE: sda1 ESP (UEFI) or BIOS boot partition, sda2 btrfs root with snapshot subvolumes, sda3 swap.
SUSE_ROOT = "9e4f2b7c-0000-4000-8000-00000000a001"
SUSE_SWAP = "9e4f2b7c-0000-4000-8000-00000000a002"
SUSE_DEVICES = {
    "/dev/sda1": BlockId(ESP_UUID, "vfat"),
    "/dev/sda2": BlockId(SUSE_ROOT, "btrfs"),
    "/dev/sda3": BlockId(SUSE_SWAP, "swap"),
}
SUSE_DISK = "/dev/disk/by-id/scsi-36000c29f0e1d2c3b4a5968778695a4b3"
SUSE_NET = "/etc/sysconfig/network"


def suse_os_release(ident: str, version: str, pretty: str, name: str) -> str:
    return (
        f'NAME="{name}"\nVERSION="{version}"\nVERSION_ID="{version.replace("-SP", ".")}"\n'
        f'PRETTY_NAME="{pretty}"\nID="{ident}"\nID_LIKE="suse"\nANSI_COLOR="0;32"\nCPE_NAME="cpe:/o:suse:{ident}"\n'
    )


def suse_fstab(disk: str, uefi: bool) -> str:
    lines = [f"{disk}-part3  swap  swap  defaults  0  0", f"{disk}-part2  /  btrfs  defaults  0  0"]
    for subvol in (".snapshots", "home", "opt", "root", "srv", "tmp", "usr/local", "var"):
        lines.append(f"{disk}-part2  /{subvol}  btrfs  subvol=/@/{subvol}  0  0")
    if uefi:
        lines.append(f"{disk}-part1  /boot/efi  vfat  utf8  0  2")
    return "\n".join(lines) + "\n"


def suse_grub_cfg(name: str, kv: str, root: str, resume: str) -> str:
    return (
        '### BEGIN /etc/grub.d/00_header ###\nset btrfs_relative_path="y"\nexport btrfs_relative_path\n'
        "### END /etc/grub.d/00_header ###\n### BEGIN /etc/grub.d/10_linux ###\n"
        f"menuentry '{name}' --class sles --class gnu-linux --class gnu --class os {{\n"
        "\tload_video\n\tset gfxpayload=keep\n\tinsmod gzio\n\tinsmod part_gpt\n\tinsmod btrfs\n"
        "\tset root='hd0,gpt2'\n"
        f"\tlinux\t/boot/vmlinuz-{kv} root={root}  ${{extra_cmdline}} splash=silent resume={resume} quiet\n"
        f"\tinitrd\t/boot/initrd-{kv}\n}}\n### END /etc/grub.d/10_linux ###\n"
        "### BEGIN /etc/grub.d/80_suse_btrfs_snapshot ###\n"
        f"menuentry 'Snapshot 2 ({kv}, pre zypper)' {{\n"
        f"\tlinux\t/boot/vmlinuz-{kv} root={root} rootflags=subvol=@/.snapshots/2/snapshot\n"
        f"\tinitrd\t/boot/initrd-{kv}\n}}\n### END /etc/grub.d/80_suse_btrfs_snapshot ###\n"
    )


SUSE_INITRD = "/boot/initrd-{kv}"
SLES12_KV = "4.12.14-122.183-default"
SLES15_KV = "5.3.18-150200.24.183-default"
LEAP_KV = "5.14.21-150500.55.39-default"
CASES.update(
    {
        # SLES 12 SP5: by-id names everywhere (the installer's default), BerkeleyDB, wicked static,
        # persistent-net rules, /etc/HOSTNAME.
        "sles12": FamilyCase(
            Guest(
                suse_os_release("sles", "12-SP5", "SUSE Linux Enterprise Server 12 SP5", "SLES"),
                [SLES12_KV],
                kernel_package="kernel-default",
                packages=[("open-vm-tools", "12.1.0", "4.98.1"), ("libvmtools0", "12.1.0", "4.98.1")],
                rpmdb="bdb",
                bls=False,
                cmdline=f"root={SUSE_DISK}-part2 resume={SUSE_DISK}-part3 splash=silent quiet showopts",
                initrd=SUSE_INITRD,
                grub_cfg=suse_grub_cfg("SLES12-SP5", SLES12_KV, f"{SUSE_DISK}-part2", f"{SUSE_DISK}-part3"),
                files={
                    "/etc/SuSE-release": "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 5\n",
                    "/etc/HOSTNAME": "sles12-vmw\n",
                    "/etc/fstab": suse_fstab(SUSE_DISK, uefi=False),
                    "/etc/sysconfig/bootloader": (
                        'LOADER_TYPE="grub2"\nDEFAULT_APPEND="  resume=' + SUSE_DISK + "-part3 splash=silent quiet "
                        'showopts crashkernel=160M,high"\nFAILSAFE_APPEND="ide=nodma apm=off"\n'
                    ),
                    f"{SUSE_NET}/ifcfg-eth0": (
                        "BOOTPROTO='static'\nBROADCAST=''\nETHTOOL_OPTIONS=''\nIPADDR='10.20.30.50/24'\nMTU=''\n"
                        "NAME='VMXNET3 Ethernet Controller'\nNETWORK=''\nREMOTE_IPADDR=''\nSTARTMODE='auto'\n"
                    ),
                    f"{SUSE_NET}/ifcfg-lo": "IPADDR=127.0.0.1\nNETMASK=255.0.0.0\nSTARTMODE=nfsroot\n",
                    f"{SUSE_NET}/routes": "default 10.20.30.1 - -\n",
                    f"{SUSE_NET}/config": (
                        'NETCONFIG_DNS_POLICY="auto"\nNETCONFIG_DNS_STATIC_SEARCHLIST="corp.example"\n'
                        'NETCONFIG_DNS_STATIC_SERVERS="10.20.30.2"\n'
                    ),
                    "/etc/udev/rules.d/70-persistent-net.rules": (
                        "# This file was automatically generated by the /usr/lib/udev/write_net_rules\n"
                        '# PCI device 0x15ad:0x07b0 (vmxnet3)\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", '
                        f'ATTR{{address}}=="{MAC1}", ATTR{{dev_id}}=="0x0", ATTR{{type}}=="1", KERNEL=="eth*", '
                        'NAME="eth0"\n'
                    ),
                },
            ),
            ("sles", "12.5", "suse"),
            [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut(SLES12_KV, SUSE_INITRD)],
            options=MorphOptions(preserve_static_ips=True, hostname="sles12-kvm"),
            devices=SUSE_DEVICES,
        ),
        # SLES 15 SP2: UEFI with only EFI/sles (shim), BerkeleyDB (ndb came with SP3), wicked DHCP.
        "sles15": FamilyCase(
            Guest(
                suse_os_release("sles", "15-SP2", "SUSE Linux Enterprise Server 15 SP2", "SLES"),
                [SLES15_KV],
                kernel_package="kernel-default",
                packages=[("open-vm-tools", "11.3.5", "150200.5.8.1")],
                rpmdb="bdb",
                bls=False,
                uefi_vendor="sles",
                initrd=SUSE_INITRD,
                grub_cfg=suse_grub_cfg("SLES 15-SP2", SLES15_KV, f"UUID={SUSE_ROOT}", "/dev/sda3"),
                files={
                    "/etc/fstab": suse_fstab(SUSE_DISK, uefi=True),
                    "/etc/sysconfig/bootloader": 'LOADER_TYPE="grub2-efi"\nDEFAULT_APPEND="resume=/dev/sda3 quiet"\n',
                    f"{SUSE_NET}/ifcfg-eth0": "BOOTPROTO='dhcp'\nSTARTMODE='auto'\nZONE=''\n",
                    f"{SUSE_NET}/ifcfg-lo": "IPADDR=127.0.0.1\nNETMASK=255.0.0.0\nSTARTMODE=nfsroot\n",
                },
            ),
            ("sles", "15.2", "suse"),
            [["rpm", "-e", "--nodeps", "open-vm-tools"], dracut(SLES15_KV, SUSE_INITRD)],
            devices=SUSE_DEVICES,
        ),
        # openSUSE Leap 15.5: the ndb rpm database (read by the guest's rpm), two NICs.
        "opensuse_leap15": FamilyCase(
            Guest(
                suse_os_release("opensuse-leap", "15.5", "openSUSE Leap 15.5", "openSUSE Leap"),
                [LEAP_KV],
                kernel_package="kernel-default",
                rpmdb="ndb",
                bls=False,
                cmdline=f"root={SUSE_DISK}-part2 resume={SUSE_DISK}-part3 splash=silent quiet",
                initrd=SUSE_INITRD,
                grub_cfg=suse_grub_cfg("openSUSE Leap 15.5", LEAP_KV, f"{SUSE_DISK}-part2", f"{SUSE_DISK}-part3"),
                files={
                    "/etc/fstab": suse_fstab(SUSE_DISK, uefi=False),
                    f"{SUSE_NET}/ifcfg-eth0": "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n",
                    f"{SUSE_NET}/ifcfg-eth1": "BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='192.168.7.10'\n"
                    "NETMASK='255.255.255.0'\n",
                    f"{SUSE_NET}/ifroute-eth1": "default 192.168.7.1 - eth1\n",
                },
            ),
            ("opensuse-leap", "15.5", "suse"),
            [
                ["rpm", "-qa", "--qf", "%{NAME}\\n"],
                ["rpm", "-e", "--nodeps", "open-vm-tools", "open-vm-tools-desktop"],
                dracut(LEAP_KV, SUSE_INITRD),
            ],
            nics=2,
            options=STATIC,
            devices=SUSE_DEVICES,
            outputs={"rpm": "bash\nkernel-default\nopen-vm-tools\nopen-vm-tools-desktop\nlibvmtools0\n"},
        ),
    }
)
