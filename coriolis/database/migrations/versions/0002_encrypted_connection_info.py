"""connection info encrypted at rest; a migration's inline connection info in its own columns

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

from coriolis.database.encrypted import keyring

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _json(value):
    """A JSON column as the driver hands it: parsed already (PostgreSQL) or text (SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def _swap_endpoint_column(new_type, convert) -> None:
    """Replace endpoints.connection_info by a column of ``new_type``, converting every value."""
    bind = op.get_bind()
    op.add_column("endpoints", sa.Column("connection_info_new", new_type, nullable=True))
    endpoints = sa.table(
        "endpoints", sa.column("id"), sa.column("connection_info"), sa.column("connection_info_new", new_type)
    )
    for row in bind.execute(sa.select(endpoints.c.id, endpoints.c.connection_info)).all():
        value = convert(row.connection_info)
        bind.execute(endpoints.update().where(endpoints.c.id == row.id).values(connection_info_new=value))
    # native DROP/RENAME COLUMN (SQLite >= 3.35): a batch copy would drop a table migrations refer to
    op.drop_column("endpoints", "connection_info")
    op.alter_column("endpoints", "connection_info_new", new_column_name="connection_info")


def upgrade() -> None:
    ring = keyring()
    bind = op.get_bind()
    _swap_endpoint_column(sa.Text(), lambda v: ring.encrypt_json(_json(v) or {}))

    op.add_column("migrations", sa.Column("origin_connection_info", sa.Text(), nullable=True))
    op.add_column("migrations", sa.Column("destination_connection_info", sa.Text(), nullable=True))
    migrations = sa.table(
        "migrations", sa.column("id"), sa.column("origin", sa.JSON()), sa.column("destination", sa.JSON()),
        sa.column("origin_connection_info"), sa.column("destination_connection_info"),
    )
    rows = bind.execute(sa.select(migrations.c.id, migrations.c.origin, migrations.c.destination)).all()
    for row in rows:
        values = {}
        for side in ("origin", "destination"):
            data = dict(_json(getattr(row, side)) or {})
            info = data.pop("connection_info", None)
            values[side] = data
            values[f"{side}_connection_info"] = ring.encrypt_json(info) if info is not None else None
        bind.execute(migrations.update().where(migrations.c.id == row.id).values(**values))


def _decrypt(ring, token: str):
    try:
        return ring.decrypt_json(token)
    except InvalidToken:
        raise RuntimeError(
            "a stored connection info cannot be decrypted with the configured encryption_keys; "
            "the downgrade needs the key that encrypted it"
        ) from None


def downgrade() -> None:
    ring = keyring()
    bind = op.get_bind()
    migrations = sa.table(
        "migrations", sa.column("id"), sa.column("origin", sa.JSON()), sa.column("destination", sa.JSON()),
        sa.column("origin_connection_info"), sa.column("destination_connection_info"),
    )
    query = sa.select(
        migrations.c.id, migrations.c.origin, migrations.c.destination,
        migrations.c.origin_connection_info, migrations.c.destination_connection_info,
    )
    for row in bind.execute(query).all():
        values = {}
        for side in ("origin", "destination"):
            data = dict(_json(getattr(row, side)) or {})
            token = getattr(row, f"{side}_connection_info")
            if token is not None:
                data["connection_info"] = _decrypt(ring, token)
            values[side] = data
        bind.execute(migrations.update().where(migrations.c.id == row.id).values(**values))
    op.drop_column("migrations", "destination_connection_info")
    op.drop_column("migrations", "origin_connection_info")

    _swap_endpoint_column(sa.JSON(), lambda token: _decrypt(ring, token) if token else {})
    if bind.dialect.name != "sqlite":
        op.alter_column("endpoints", "connection_info", existing_type=sa.JSON(), nullable=False)
