"""The services resource: the Celery worker nodes and their queues; and the API's diagnostics."""

from coriolis_api.resources.services.views import blp

__all__ = ["blp"]
