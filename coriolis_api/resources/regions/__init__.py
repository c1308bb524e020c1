"""The regions resource: regions endpoints are mapped to."""

from coriolis_api.resources.regions.views import blp

__all__ = ["blp"]
