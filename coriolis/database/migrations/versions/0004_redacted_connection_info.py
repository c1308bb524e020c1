"""what responses show of sealed connection info, in plain columns beside it (lists never decrypt)

Revision ID: 0004
Revises: 0003

Each existing value is opened once with the configured keys; one that no key opens gets a NULL
sibling, which readers treat as "decrypt to know" (and ``coriolis rotate-keys`` fills in later).
"""

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

from coriolis.database import redaction
from coriolis.database.encrypted import EncryptionKeyError, keyring

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {"endpoints": ("connection_info",), "migrations": ("origin_connection_info", "destination_connection_info")}


def _sibling(ring, token: str | None):
    if token is None:
        return dict(redaction.NOTHING_SEALED)
    if ring is None:
        return None
    try:
        value, kid = ring.open(token)
    except InvalidToken:
        return None
    return redaction.stored(value, kid)


def upgrade() -> None:
    bind = op.get_bind()
    for table_name, names in COLUMNS.items():
        for name in names:
            op.add_column(table_name, sa.Column(name + redaction.SUFFIX, sa.JSON(), nullable=True))
    try:
        ring = keyring()
    except EncryptionKeyError:
        ring = None  # every sealed value keeps a NULL sibling: readers decrypt, as before
    for table_name, names in COLUMNS.items():
        siblings = [n + redaction.SUFFIX for n in names]
        table = sa.table(
            table_name, sa.column("id"), *(sa.column(n, sa.Text()) for n in names),
            *(sa.column(n, sa.JSON()) for n in siblings),
        )
        for row in bind.execute(sa.select(table.c.id, *(table.c[n] for n in names))).all():
            values = {n + redaction.SUFFIX: _sibling(ring, getattr(row, n)) for n in names}
            bind.execute(table.update().where(table.c.id == row.id).values(**values))


def downgrade() -> None:
    for table_name, names in COLUMNS.items():
        for name in names:
            op.drop_column(table_name, name + redaction.SUFFIX)
