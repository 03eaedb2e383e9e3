"""Matching tables: proposed/decided record pairs, trained models, block keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow


class MatchLink(TenantScoped, Base):
    """Two customer records a probabilistic match paired, and what was decided.

    `accepted`: the records share the key ("match", id) in the identity graph, so every
    replay and rebuild joins them (guards permitting). `review`: waiting for a person.
    `rejected`: a cannot-link keeps them apart for good. `obsolete`: a review item whose
    records became one person some other way."""

    __tablename__ = "match_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq_a", "seq_b"),
        Index("ix_match_links_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq_a: Mapped[int] = mapped_column(BigInteger)  # identity link seqs, seq_a < seq_b
    seq_b: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)  # match weight in bits
    # {comparison: {"level": label, "bits": log2(m/u)}}: why the pair scored as it did.
    comparisons: Mapped[dict[str, Any]] = mapped_column(JSON)
    rule: Mapped[str] = mapped_column(String(32))  # the blocking rule that paired them
    oneid_a: Mapped[str] = mapped_column(String(26))  # persons when proposed
    oneid_b: Mapped[str] = mapped_column(String(26))
    model_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)


class MatchModel(TenantScoped, Base):
    """A trained Fellegi–Sunter model (m, u, prior, term frequencies); the latest scores."""

    __tablename__ = "match_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MatchKey(TenantScoped, Base):
    """A customer record's blocking keys (hashed): finds a new record's block online."""

    __tablename__ = "match_keys"
    __table_args__ = (Index("ix_match_keys_seq", "tenant_id", "seq"),)

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
