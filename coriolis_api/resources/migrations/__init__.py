"""The migrations resource."""

from coriolis_api.resources.migrations.views import blp

__all__ = ["blp"]
