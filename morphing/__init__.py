"""Morphing: make a migrated guest's OS boot and network on the destination hypervisor."""

from morphing.errors import MorphError
from morphing.morpher import morph, morph_tree
from morphing.options import MorphOptions, MorphResult, Toolkit

__all__ = ["MorphError", "MorphOptions", "MorphResult", "morph", "morph_tree", "Toolkit"]
