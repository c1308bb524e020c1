"""UEFI guests on a destination without their NVRAM: the removable-media fallback loader."""

from __future__ import annotations

from morphing.tree import GuestTree

ESP = "/boot/efi/EFI"
FALLBACK_DIR = f"{ESP}/BOOT"
FALLBACK = f"{FALLBACK_DIR}/BOOTX64.EFI"
# shim first: with Secure Boot only a signed shim may start grub; shim then starts grubx64.efi
# from its own directory. fbx64.efi is not copied: it would try to write boot entries to an NVRAM
# the destination may not keep, and shim boots grubx64.efi directly without it.
_LOADERS = ("shimx64.efi", "grubx64.efi")


def _find(tree: GuestTree, directory: str, name: str) -> str | None:
    """``directory/name`` matched case-insensitively (FAT is case-insensitive)."""
    return next((f"{directory}/{e}" for e in tree.listdir(directory) if e.lower() == name.lower()), None)


def ensure_fallback(tree: GuestTree) -> list[str]:
    """Write ``EFI/BOOT/BOOTX64.EFI`` when the ESP only has a vendor loader; returns the changes.

    The firmware of a new VM has no boot entry naming ``EFI/<vendor>/shimx64.efi``: it boots the
    removable-media path. The vendor's shim (or grub) is copied there, with grub beside a shim,
    and a grub.cfg that loads the vendor's own config (grub looks for its config beside itself).
    """
    if not tree.is_dir(ESP) or _find(tree, FALLBACK_DIR, "BOOTX64.EFI") is not None:
        return []
    for vendor in tree.listdir(ESP):
        if vendor.upper() == "BOOT":
            continue
        directory = f"{ESP}/{vendor}"
        loaders = {name: _find(tree, directory, name) for name in _LOADERS}
        first = next((path for path in loaders.values() if path is not None), None)
        if first is None:
            continue
        changes = []
        tree.copy(first, FALLBACK)
        changes.append(f"uefi: copied {first} to the fallback path {FALLBACK}")
        grub = loaders["grubx64.efi"]
        if first == loaders["shimx64.efi"] and grub is not None:
            tree.copy(grub, f"{FALLBACK_DIR}/grubx64.efi")
            changes.append(f"uefi: copied {grub} to {FALLBACK_DIR}/grubx64.efi (shim starts it)")
        config = _find(tree, directory, "grub.cfg")
        if config is not None and _find(tree, FALLBACK_DIR, "grub.cfg") is None:
            relative = config.removeprefix("/boot/efi")
            tree.write(
                f"{FALLBACK_DIR}/grub.cfg",
                "# Written by Coriolis: the removable-media loader reads the vendor's grub.cfg.\n"
                f"search --no-floppy --set=root --file {relative}\n"
                f"configfile ($root){relative}\n",
            )
            changes.append(f"uefi: {FALLBACK_DIR}/grub.cfg loads {relative}")
        return changes
    return []
