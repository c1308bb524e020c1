"""The endpoints resource."""

from coriolis_api.resources.endpoints.views import blp

__all__ = ["blp"]
