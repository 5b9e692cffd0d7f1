"""Numbers and keys shared by the two ends of a tunnel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, EncryptedBytes, UtcDateTime, utcnow
from app.models.topology import Gateway


class Tunnel(Base):
    """The ``reqid`` and ``if_id`` of one unordered gateway pair.

    ``gateway_a_id`` is the smaller id of the pair, so each pair has one row.
    """

    __tablename__ = "tunnels"
    __table_args__ = (
        UniqueConstraint("gateway_a_id", "gateway_b_id", name="uq_tunnels_pair"),
        CheckConstraint("gateway_a_id < gateway_b_id", name="ordered_pair"),
        CheckConstraint("reqid BETWEEN 1 AND 4294967295", name="reqid"),
        CheckConstraint("if_id BETWEEN 1 AND 4294967295", name="if_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_a_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="CASCADE")
    )
    gateway_b_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="CASCADE"), index=True
    )
    reqid: Mapped[int] = mapped_column(BigInteger, unique=True)
    if_id: Mapped[int] = mapped_column(BigInteger, unique=True)

    gateway_a: Mapped[Gateway] = relationship(foreign_keys=[gateway_a_id])
    gateway_b: Mapped[Gateway] = relationship(foreign_keys=[gateway_b_id])
    keys: Mapped[list[SaKey]] = relationship(
        back_populates="tunnel", cascade="all, delete-orphan", passive_deletes=True
    )


class SaKey(Base):
    """Key material of one manually keyed SA, sealed at rest (:mod:`app.secrets`).

    ``phase`` runs inbound -> active -> retiring; ``retire_after`` is when a
    retiring key may be removed.  Never log or return ``key``: its repr hides it.
    """

    __tablename__ = "sa_keys"
    __table_args__ = (
        UniqueConstraint("dst_gateway_id", "spi", name="uq_sa_keys_dst_spi"),
        CheckConstraint("phase IN ('inbound', 'active', 'retiring')", name="phase"),
        CheckConstraint("mode IN ('tunnel', 'transport')", name="mode"),
        CheckConstraint("spi BETWEEN 256 AND 4294967295", name="spi"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tunnel_id: Mapped[int] = mapped_column(
        ForeignKey("tunnels.id", ondelete="CASCADE"), index=True
    )
    src_gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="CASCADE"), index=True
    )
    dst_gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateways.id", ondelete="CASCADE")
    )
    spi: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes] = mapped_column(EncryptedBytes("sa_key"))
    algorithm: Mapped[str] = mapped_column(String(64), default="rfc4106(gcm(aes))")
    icv_bits: Mapped[int] = mapped_column(Integer, default=128)
    mode: Mapped[str] = mapped_column(String(16), default="tunnel")
    generation: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16), default="inbound")
    # The revision at which the key entered its phase (rotation waits on it).
    phase_revision: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retire_after: Mapped[datetime | None] = mapped_column(UtcDateTime)

    tunnel: Mapped[Tunnel] = relationship(back_populates="keys")
    src_gateway: Mapped[Gateway] = relationship(foreign_keys=[src_gateway_id])
    dst_gateway: Mapped[Gateway] = relationship(foreign_keys=[dst_gateway_id])

    def __repr__(self) -> str:  # never show the key
        return f"<SaKey spi={self.spi:#x} generation={self.generation} {self.phase}>"
