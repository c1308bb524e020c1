"""The deployments resource."""

from coriolis_api.resources.deployments.views import blp

__all__ = ["blp"]
