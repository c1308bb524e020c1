"""Disk image conversion with qemu-img; knows nothing else of Coriolis."""

from conversion.checksum import checksum
from conversion.errors import ConversionError
from conversion.formats import QEMU_FORMATS, qemu_format, user_format
from conversion.member import Member
from conversion.qemu_img import Extent, ImageInfo, compare, convert, info, map_extents
from conversion.sync import SyncStats

__all__ = [
    "QEMU_FORMATS",
    "ConversionError",
    "Extent",
    "ImageInfo",
    "Member",
    "SyncStats",
    "checksum",
    "compare",
    "convert",
    "info",
    "map_extents",
    "qemu_format",
    "user_format",
]
