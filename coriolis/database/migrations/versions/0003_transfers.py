"""transfers, replica disks, schedules; migrations become runs of any type

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("origin_endpoint_id", sa.String(length=36), sa.ForeignKey("endpoints.id"), nullable=False),
        sa.Column("destination_endpoint_id", sa.String(length=36), sa.ForeignKey("endpoints.id"), nullable=False),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.Column("source_environment", sa.JSON(), nullable=False),
        sa.Column("destination_environment", sa.JSON(), nullable=False),
        sa.Column("network_map", sa.JSON(), nullable=False),
        sa.Column("storage_mappings", sa.JSON(), nullable=False),
        sa.Column("user_scripts", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("clone_disks", sa.Boolean(), nullable=False),
        sa.Column("skip_os_morphing", sa.Boolean(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transfers_project_id", "transfers", ["project_id"])
    op.create_index("ix_transfers_created_at", "transfers", ["created_at"])
    op.create_table(
        "replica_disks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("disk_id", sa.String(length=255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("change_id", sa.String(length=255), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transfer_id", "instance", "disk_id", name="uq_replica_disk"),
    )
    op.create_index("ix_replica_disks_transfer_id", "replica_disks", ["transfer_id"])
    op.create_table(
        "schedules",
        sa.Column("transfer_id", sa.String(length=36), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("minute", sa.String(length=64), nullable=True),
        sa.Column("hour", sa.String(length=64), nullable=True),
        sa.Column("dom", sa.String(length=64), nullable=True),
        sa.Column("month", sa.String(length=64), nullable=True),
        sa.Column("dow", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("expiration_date", sa.DateTime(), nullable=True),
        sa.Column("shutdown_instance", sa.Boolean(), nullable=False),
        sa.Column("auto_deploy", sa.Boolean(), nullable=False),
        sa.Column("last_fired_for", sa.DateTime(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_schedules_transfer_id", "schedules", ["transfer_id"])
    op.create_index("ix_schedules_project_id", "schedules", ["project_id"])
    op.create_index("ix_schedules_created_at", "schedules", ["created_at"])
    with op.batch_alter_table("migrations") as batch:
        batch.add_column(sa.Column("type", sa.String(length=32), nullable=False, server_default="migration"))
        batch.add_column(sa.Column("transfer_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch.create_index("ix_migrations_type", ["type"])
        batch.create_index("ix_migrations_transfer_id", ["transfer_id"])
        batch.create_foreign_key("fk_migrations_transfer_id", "transfers", ["transfer_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("migrations") as batch:
        batch.drop_constraint("fk_migrations_transfer_id", type_="foreignkey")
        batch.drop_index("ix_migrations_transfer_id")
        batch.drop_index("ix_migrations_type")
        for column in ("options", "number", "transfer_id", "type"):
            batch.drop_column(column)
    op.drop_table("schedules")
    op.drop_table("replica_disks")
    op.drop_table("transfers")
