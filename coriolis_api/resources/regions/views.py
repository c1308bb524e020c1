"""Views of ``/v1/<project_id>/regions``: listed by every project, changed by admins (policy ``region:*``)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from coriolis.database.models import Endpoint, Region, utcnow
from coriolis_api.context import RequestContext, current
from coriolis_api.pagination import paginate
from coriolis_api.resources.common import check_id
from coriolis_api.resources.regions import schemas
from coriolis_api.state import db_session, settings

blp = Blueprint("regions", __name__, url_prefix="/v1/<project_id>/regions", description="Regions")
SORT_KEYS = ("created_at", "updated_at", "id", "name")


def _present(s, ctx: RequestContext, region: Region) -> dict:
    endpoints = s.scalars(select(Endpoint).where(Endpoint.project_id == ctx.project_id,
                                                 Endpoint.deleted.is_(False))).all()
    return {
        "id": region.id, "name": region.name, "description": region.description, "enabled": region.enabled,
        "created_at": region.created_at, "updated_at": region.updated_at,
        "mapped_endpoints": [e.id for e in endpoints if region.id in (e.mapped_regions or [])],
        "mapped_services": [],
    }


def _get(s, region_id: str) -> Region:
    check_id(region_id, "region")
    region = s.get(Region, region_id)
    if region is None or region.deleted:
        abort(404, message=f"region {region_id} not found")
    return region


def check_regions(session, region_ids: list[str]) -> None:
    """Every id names an existing region (400 otherwise): what endpoints' ``mapped_regions`` may hold."""
    for region_id in region_ids:
        try:
            _get(session, region_id)
        except Exception:  # abort's 404 is, for the endpoint's body, a bad field
            abort(400, message=f"mapped_regions: region {region_id[:80]!r} not found")


@blp.route("")
class Regions(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.RegionListResponse)
    def get(self, args, project_id):
        """List regions."""
        with db_session() as s:
            ctx = current(project_id, "region:list")
            query = select(Region).where(Region.deleted.is_(False))
            rows = s.scalars(paginate(s, query, Region, args, SORT_KEYS, settings().page_limit_max)).all()
            return {"regions": [_present(s, ctx, r) for r in rows]}

    @blp.arguments(schemas.RegionCreateSchema)
    @blp.response(201, schemas.RegionResponse)
    def post(self, body, project_id):
        """Create a region (admins)."""
        with db_session() as s:
            ctx = current(project_id, "region:create")
            region = Region(**body["region"])
            s.add(region)
            s.flush()
            return {"region": _present(s, ctx, region)}


@blp.route("/<region_id>")
class RegionById(MethodView):
    @blp.response(200, schemas.RegionResponse)
    def get(self, project_id, region_id):
        """Show a region and the caller's endpoints mapped to it."""
        with db_session() as s:
            return {"region": _present(s, current(project_id, "region:show"), _get(s, region_id))}

    @blp.arguments(schemas.RegionUpdateSchema)
    @blp.response(200, schemas.RegionResponse)
    def put(self, body, project_id, region_id):
        """Change a region's name, description or enabled flag (admins)."""
        with db_session() as s:
            ctx = current(project_id, "region:update")
            region = _get(s, region_id)
            for key, value in body["region"].items():
                setattr(region, key, value)
            region.updated_at = utcnow()
            return {"region": _present(s, ctx, region)}

    @blp.response(204)
    def delete(self, project_id, region_id):
        """Delete a region no endpoint is mapped to (409 otherwise; admins)."""
        with db_session() as s:
            current(project_id, "region:delete")
            region = _get(s, region_id)
            mapped = [e.id for e in s.scalars(select(Endpoint).where(Endpoint.deleted.is_(False)))
                      if region.id in (e.mapped_regions or [])]
            if mapped:
                abort(409, message=f"region is mapped to endpoint {mapped[0]}: unmap it first")
            region.deleted, region.deleted_at = True, utcnow()
