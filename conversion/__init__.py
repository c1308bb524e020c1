"""Disk image conversion with qemu-img; knows nothing else of Coriolis."""

from conversion.checksum import checksum
from conversion.errors import ConversionError
from conversion.formats import QEMU_FORMATS, qemu_format, user_format
from conversion.qemu_img import Extent, ImageInfo, compare, convert, info, map_extents

__all__ = [
    "QEMU_FORMATS",
    "ConversionError",
    "Extent",
    "ImageInfo",
    "checksum",
    "compare",
    "convert",
    "info",
    "map_extents",
    "qemu_format",
    "user_format",
]
