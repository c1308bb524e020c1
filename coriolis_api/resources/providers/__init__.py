"""The providers resource."""

from coriolis_api.resources.providers.views import blp

__all__ = ["blp"]
