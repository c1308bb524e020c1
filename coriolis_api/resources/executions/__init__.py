"""The transfer executions resource."""

from coriolis_api.resources.executions.views import blp

__all__ = ["blp"]
