"""Views of ``/v1/<project_id>/migrations``: thin, the logic is in ``service``."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from coriolis_api.auth import caller_identity
from coriolis_api.context import current
from coriolis_api.resources.migrations import schemas, service
from coriolis_api.state import db_session, progress_store, settings

blp = Blueprint("migrations", __name__, url_prefix="/v1/<project_id>/migrations", description="Migrations")


@blp.route("")
class Migrations(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.MigrationListResponse)
    def get(self, args, project_id):
        """List migrations (paginated)."""
        with db_session() as s:
            rows = service.list_(s, current(project_id, "migration:list"), args, settings(), with_tasks=False)
            return {"migrations": [service.present(m, None, with_tasks=False) for m in rows]}

    @blp.arguments(schemas.MigrationCreateSchema)
    @blp.response(202, schemas.MigrationResponse)
    def post(self, body, project_id):
        """Create a migration and start it."""
        with db_session() as s:
            ctx = current(project_id, "migration:create")
            migration = service.create(s, ctx, body["migration"])
            with caller_identity.delegation(s, ctx, migration):
                s.commit()
            data = service.present(migration, progress_store(), with_tasks=True)
        service.dispatch(migration.id)
        current_app.logger.info("migration %s created", migration.id)
        return {"migration": data}


@blp.route("/detail")
class MigrationsDetail(MethodView):
    @blp.arguments(schemas.ListArgs, location="query")
    @blp.response(200, schemas.MigrationListResponse)
    def get(self, args, project_id):
        """List migrations with their tasks (paginated)."""
        with db_session() as s:
            rows = service.list_(s, current(project_id, "migration:list"), args, settings(), with_tasks=True)
            return {"migrations": service.present_many(rows, progress_store(), with_tasks=True)}


@blp.route("/<migration_id>")
class MigrationById(MethodView):
    @blp.response(200, schemas.MigrationResponse)
    def get(self, project_id, migration_id):
        """Show a migration with its tasks, live progress and events."""
        with db_session() as s:
            migration = service.get(s, current(project_id, "migration:show"), migration_id)
            return {"migration": service.present(migration, progress_store(), with_tasks=True)}

    @blp.response(204)
    def delete(self, project_id, migration_id):
        """Delete a completed, failed or cancelled migration."""
        with db_session() as s:
            service.delete(s, current(project_id, "migration:delete"), migration_id)
            s.commit()


def _action(body, project_id, migration_id):
    with db_session() as s:
        ctx = current(project_id, "migration:cancel")
        service.cancel(s, ctx, migration_id, bool((body["cancel"] or {}).get("force")), settings())


@blp.route("/<migration_id>/actions")
class MigrationActions(MethodView):
    @blp.arguments(schemas.ActionSchema)
    @blp.response(204)
    def post(self, body, project_id, migration_id):
        """Run an action: ``{"cancel": null}`` or ``{"cancel": {"force": true}}``."""
        _action(body, project_id, migration_id)


@blp.route("/<migration_id>/action")
class MigrationAction(MethodView):
    @blp.arguments(schemas.ActionSchema)
    @blp.response(204)
    def post(self, body, project_id, migration_id):
        """Same as ``/actions`` (the seed's spelling)."""
        _action(body, project_id, migration_id)
