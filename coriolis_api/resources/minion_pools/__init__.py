"""The minion pools resource: upstream's pre-provisioned helper VMs, which this service does not have."""

from coriolis_api.resources.minion_pools.views import blp

__all__ = ["blp"]
