"""The transfer schedules resource."""

from coriolis_api.resources.schedules.views import blp

__all__ = ["blp"]
