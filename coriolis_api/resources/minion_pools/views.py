"""Views of ``/v1/<project_id>/minion_pools``: an empty list, and a clear 404 for any one pool.

Upstream Coriolis keeps pools of helper VMs in the source or destination cloud for disk transfer
and OS morphing; this service does that work on its own worker pools and a libguestfs appliance,
so there is no pool to show, create or allocate (never a fake one).
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from coriolis_api.context import current
from coriolis_api.resources.minion_pools.schemas import NO_POOLS, MinionPoolListResponse

blp = Blueprint(
    "minion_pools", __name__, url_prefix="/v1/<project_id>/minion_pools",
    description="Minion pools (none: worker pools do their part)",
)


@blp.route("")
class MinionPools(MethodView):
    @blp.response(200, MinionPoolListResponse)
    def get(self, project_id):
        """List minion pools: always empty (this service has none)."""
        current(project_id, "minion_pool:list")
        return {"minion_pools": []}

    @blp.response(400)
    def post(self, project_id):
        """Creating a minion pool is refused: 400 saying why."""
        current(project_id, "minion_pool:create")
        abort(400, message=NO_POOLS)


@blp.route("/detail")
class MinionPoolsDetail(MethodView):
    @blp.response(200, MinionPoolListResponse)
    def get(self, project_id):
        """List minion pools with details: always empty."""
        current(project_id, "minion_pool:list")
        return {"minion_pools": []}


@blp.route("/<pool_id>", methods=["GET", "PUT", "DELETE"])
@blp.route("/<pool_id>/actions", methods=["POST"])
def pool_by_id(project_id, pool_id):
    """Any one pool: 404 (none exists)."""
    current(project_id, "minion_pool:show")
    abort(404, message=f"minion pool {pool_id[:80]} not found: {NO_POOLS}")
