"""The transfers resource."""

from coriolis_api.resources.transfers.views import blp

__all__ = ["blp"]
