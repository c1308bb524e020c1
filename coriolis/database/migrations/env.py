"""Alembic environment: runs migrations on the engine handed in by ``session.upgrade``."""

from alembic import context

from coriolis.database.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
