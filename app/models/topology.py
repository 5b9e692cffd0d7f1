"""Gateways, the subnets behind them and the policies between subnets."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base

NAME_LENGTH = 63
POLICY_NAME_LENGTH = 100


class Gateway(Base):
    __tablename__ = "gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    address: Mapped[str] = mapped_column(String(45), unique=True)
    ike_id: Mapped[str | None] = mapped_column(String(255))
    managed: Mapped[bool] = mapped_column(Boolean, default=True)
    route_based: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    subnets: Mapped[list[Subnet]] = relationship(back_populates="gateway")


class Subnet(Base):
    __tablename__ = "subnets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    cidr: Mapped[str] = mapped_column(String(49))
    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    gateway: Mapped[Gateway] = relationship(back_populates="subnets")


class Policy(Base):
    """Traffic between two ends, both directions.

    Each end is either a subnet (``*_subnet_id``, which follows renames) or a CIDR
    (``*_cidr``) lying inside some known subnet.
    """

    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint("(a_subnet_id IS NULL) <> (a_cidr IS NULL)", name="a_end"),
        CheckConstraint("(b_subnet_id IS NULL) <> (b_cidr IS NULL)", name="b_end"),
        CheckConstraint("action IN ('protect', 'bypass', 'drop')", name="action"),
        CheckConstraint("mode IN ('tunnel', 'transport')", name="mode"),
        CheckConstraint("keying IN ('ike', 'manual')", name="keying"),
        CheckConstraint(
            "protocol IS NULL OR protocol BETWEEN 1 AND 255", name="protocol"
        ),
        CheckConstraint(
            "(port_first IS NULL AND port_last IS NULL) OR "
            "(port_first BETWEEN 1 AND port_last AND port_last <= 65535)",
            name="ports",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(POLICY_NAME_LENGTH), unique=True)
    a_subnet_id: Mapped[int | None] = mapped_column(
        ForeignKey("subnets.id", ondelete="RESTRICT"), index=True
    )
    a_cidr: Mapped[str | None] = mapped_column(String(49))
    b_subnet_id: Mapped[int | None] = mapped_column(
        ForeignKey("subnets.id", ondelete="RESTRICT"), index=True
    )
    b_cidr: Mapped[str | None] = mapped_column(String(49))
    action: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[int | None] = mapped_column(Integer)
    port_first: Mapped[int | None] = mapped_column(Integer)
    port_last: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16), default="tunnel")
    keying: Mapped[str] = mapped_column(String(16), default="ike")
    position: Mapped[int] = mapped_column(Integer, default=0)

    a_subnet: Mapped[Subnet | None] = relationship(foreign_keys=[a_subnet_id])
    b_subnet: Mapped[Subnet | None] = relationship(foreign_keys=[b_subnet_id])
