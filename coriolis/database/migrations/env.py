"""Alembic environment: runs migrations on the engine handed in by ``session.upgrade``."""

from alembic import context

from coriolis.database.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one: with foreign keys enforced,
        # dropping a table other rows refer to fails, so they are off while the schema changes
        # (the pragma only takes effect outside a transaction).
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
