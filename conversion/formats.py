"""Disk image format names: the user-facing ones and the qemu-img driver names."""

from __future__ import annotations

from conversion.errors import ConversionError

# User-facing name -> qemu block driver. VHD is called 'vpc' inside qemu.
QEMU_FORMATS: dict[str, str] = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "vdi": "vdi",
}

_USER_FORMATS: dict[str, str] = {qemu: user for user, qemu in QEMU_FORMATS.items()}

# Single-file VMDK subformats we create (monolithicFlat/twoGbMaxExtent* write several files).
VMDK_SUBFORMATS = ("monolithicSparse", "streamOptimized")

# File name extensions, by user-facing format name.
EXTENSIONS: dict[str, str] = {name: name for name in QEMU_FORMATS}


def qemu_format(name: str) -> str:
    """The qemu-img driver for a format name.

    Args:
        name: a user-facing name (``raw``, ``qcow2``, ``vmdk``, ``vhd``, ``vhdx``, ``vdi``);
            qemu's own ``vpc`` is accepted too.

    Raises:
        ConversionError: the format is not one we handle.
    """
    key = name.strip().lower()
    if key in QEMU_FORMATS:
        return QEMU_FORMATS[key]
    if key in _USER_FORMATS:
        return key
    raise ConversionError(f"unsupported disk format {name!r} (known: {', '.join(QEMU_FORMATS)})")


def user_format(name: str) -> str:
    """The user-facing name for a qemu driver or user name (``vpc`` -> ``vhd``).

    Args:
        name: a qemu driver name or a user-facing name.

    Raises:
        ConversionError: the format is not one we handle.
    """
    return _USER_FORMATS[qemu_format(name)]
