"""Initial schema: gateways, subnets, policies, tunnels, SA keys, revision, audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
    )
    op.execute("INSERT INTO revision (id, number) VALUES (1, 0)")

    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
    )
    op.create_index(op.f("ix_audit_records_revision"), "audit_records", ["revision"])

    op.create_table(
        "gateways",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("ike_id", sa.String(length=255), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("route_based", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("address", name=op.f("uq_gateways_address")),
        sa.UniqueConstraint("name", name=op.f("uq_gateways_name")),
    )

    op.create_table(
        "subnets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("cidr", sa.String(length=49), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_subnets_gateway_id_gateways"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnets")),
        sa.UniqueConstraint("name", name=op.f("uq_subnets_name")),
    )
    op.create_index(op.f("ix_subnets_gateway_id"), "subnets", ["gateway_id"])

    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("a_subnet_id", sa.Integer(), nullable=True),
        sa.Column("a_cidr", sa.String(length=49), nullable=True),
        sa.Column("b_subnet_id", sa.Integer(), nullable=True),
        sa.Column("b_cidr", sa.String(length=49), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("protocol", sa.Integer(), nullable=True),
        sa.Column("port_first", sa.Integer(), nullable=True),
        sa.Column("port_last", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("keying", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(a_subnet_id IS NULL) <> (a_cidr IS NULL)", name=op.f("ck_policies_a_end")
        ),
        sa.CheckConstraint(
            "(b_subnet_id IS NULL) <> (b_cidr IS NULL)", name=op.f("ck_policies_b_end")
        ),
        sa.CheckConstraint(
            "action IN ('protect', 'bypass', 'drop')", name=op.f("ck_policies_action")
        ),
        sa.CheckConstraint(
            "mode IN ('tunnel', 'transport')", name=op.f("ck_policies_mode")
        ),
        sa.CheckConstraint(
            "keying IN ('ike', 'manual')", name=op.f("ck_policies_keying")
        ),
        sa.CheckConstraint(
            "protocol IS NULL OR protocol BETWEEN 1 AND 255",
            name=op.f("ck_policies_protocol"),
        ),
        sa.CheckConstraint(
            "(port_first IS NULL AND port_last IS NULL) OR "
            "(port_first BETWEEN 1 AND port_last AND port_last <= 65535)",
            name=op.f("ck_policies_ports"),
        ),
        sa.ForeignKeyConstraint(
            ["a_subnet_id"],
            ["subnets.id"],
            name=op.f("fk_policies_a_subnet_id_subnets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["b_subnet_id"],
            ["subnets.id"],
            name=op.f("fk_policies_b_subnet_id_subnets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_policies_name")),
    )
    op.create_index(op.f("ix_policies_a_subnet_id"), "policies", ["a_subnet_id"])
    op.create_index(op.f("ix_policies_b_subnet_id"), "policies", ["b_subnet_id"])

    op.create_table(
        "tunnels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_a_id", sa.Integer(), nullable=False),
        sa.Column("gateway_b_id", sa.Integer(), nullable=False),
        sa.Column("reqid", sa.BigInteger(), nullable=False),
        sa.Column("if_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "gateway_a_id < gateway_b_id", name=op.f("ck_tunnels_ordered_pair")
        ),
        sa.CheckConstraint(
            "if_id BETWEEN 1 AND 4294967295", name=op.f("ck_tunnels_if_id")
        ),
        sa.CheckConstraint(
            "reqid BETWEEN 1 AND 4294967295", name=op.f("ck_tunnels_reqid")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_a_id"],
            ["gateways.id"],
            name=op.f("fk_tunnels_gateway_a_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gateway_b_id"],
            ["gateways.id"],
            name=op.f("fk_tunnels_gateway_b_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tunnels")),
        sa.UniqueConstraint("gateway_a_id", "gateway_b_id", name="uq_tunnels_pair"),
        sa.UniqueConstraint("if_id", name=op.f("uq_tunnels_if_id")),
        sa.UniqueConstraint("reqid", name=op.f("uq_tunnels_reqid")),
    )
    op.create_index(op.f("ix_tunnels_gateway_b_id"), "tunnels", ["gateway_b_id"])

    op.create_table(
        "sa_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tunnel_id", sa.Integer(), nullable=False),
        sa.Column("src_gateway_id", sa.Integer(), nullable=False),
        sa.Column("dst_gateway_id", sa.Integer(), nullable=False),
        sa.Column("spi", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("icv_bits", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("retire_after", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "mode IN ('tunnel', 'transport')", name=op.f("ck_sa_keys_mode")
        ),
        sa.CheckConstraint(
            "phase IN ('inbound', 'active', 'retiring')", name=op.f("ck_sa_keys_phase")
        ),
        sa.CheckConstraint(
            "spi BETWEEN 256 AND 4294967295", name=op.f("ck_sa_keys_spi")
        ),
        sa.ForeignKeyConstraint(
            ["dst_gateway_id"],
            ["gateways.id"],
            name=op.f("fk_sa_keys_dst_gateway_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["src_gateway_id"],
            ["gateways.id"],
            name=op.f("fk_sa_keys_src_gateway_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tunnel_id"],
            ["tunnels.id"],
            name=op.f("fk_sa_keys_tunnel_id_tunnels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sa_keys")),
        sa.UniqueConstraint("dst_gateway_id", "spi", name="uq_sa_keys_dst_spi"),
    )
    op.create_index(op.f("ix_sa_keys_src_gateway_id"), "sa_keys", ["src_gateway_id"])
    op.create_index(op.f("ix_sa_keys_tunnel_id"), "sa_keys", ["tunnel_id"])


def downgrade() -> None:
    op.drop_table("sa_keys")
    op.drop_table("tunnels")
    op.drop_table("policies")
    op.drop_table("subnets")
    op.drop_table("gateways")
    op.drop_table("audit_records")
    op.drop_table("revision")
