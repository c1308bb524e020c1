"""The kernel modules a guest's initrd needs on the destination, by its disk bus and NIC model."""

from __future__ import annotations

from providers.types import TargetProfile

# Kernel modules the initrd needs to find the root disk and the NICs, by TargetProfile bus/model.
DRIVERS = {
    "virtio": ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "virtio_console"),
    "virtio-scsi": ("virtio_pci", "virtio_scsi", "sd_mod"),
    # Compute Engine: persistent disks on virtio-scsi, or on NVMe for third-generation machine types (C3, N4...)
    # https://cloud.google.com/compute/docs/disks/disk-interfaces
    "gce": ("virtio_pci", "virtio_scsi", "sd_mod", "nvme"),
    "nvme": ("nvme",),
    "gvnic": ("gve",),  # Compute Engine's gVNIC
    "hyperv": ("hv_vmbus", "hv_storvsc", "hv_netvsc"),
    "xen": ("xen_blkfront", "xen_netfront"),
    "ena": ("ena",),
    "sata": ("ahci",),
    "ide": ("ata_piix",),
    "e1000": ("e1000",),
}


def wanted_drivers(target: TargetProfile) -> list[str]:
    """The modules for the destination's disk bus and NIC model, in order, without repeats."""
    return list(dict.fromkeys(DRIVERS.get(target.disk_bus, ()) + DRIVERS.get(target.nic_model, ())))
