"""Gateway status and the revision at which each SA key entered its phase.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gateway_status",
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("applied_revision", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", TIMESTAMP, nullable=True),
        sa.Column("attempted_at", TIMESTAMP, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_gateway_status_gateway_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gateway_id", name=op.f("pk_gateway_status")),
    )
    with op.batch_alter_table("sa_keys") as batch:
        batch.add_column(
            sa.Column("phase_revision", sa.BigInteger(), nullable=False,
                      server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sa_keys") as batch:
        batch.drop_column("phase_revision")
    op.drop_table("gateway_status")
