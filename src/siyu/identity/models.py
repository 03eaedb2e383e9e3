"""Identity tables: persons (OneIDs), record links, identifier ownership, merge history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow


class Person(TenantScoped, Base):
    """A OneID. Retired OneIDs stay, pointing at their successor, so none ever dangles."""

    __tablename__ = "persons"

    oneid: Mapped[str] = mapped_column(String(26), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    merged_into: Mapped[str | None] = mapped_column(String(26), nullable=True, index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IdentityLink(TenantScoped, Base):
    """One ingested record (customer, order or event) and the person it resolves to.

    `seq` is arrival order; resolution is defined as processing records in that order.
    """

    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "source", "record_id"),
        Index("ix_identity_links_person", "tenant_id", "oneid"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(128))
    oneid: Mapped[str] = mapped_column(String(26))
    # Matching keys [[type, value], ...] after normalisation (phones as SHA-256).
    keys: Mapped[list[list[str]]] = mapped_column(JSON)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StrongIdentifier(TenantScoped, Base):
    """A strong identifier belongs to exactly one person."""

    __tablename__ = "strong_identifiers"
    __table_args__ = (Index("ix_strong_identifiers_person", "tenant_id", "oneid"),)

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    oneid: Mapped[str] = mapped_column(String(26))


class WeakIdentifier(TenantScoped, Base):
    """A weak identifier (a shared device) may be held by several persons."""

    __tablename__ = "weak_identifiers"
    __table_args__ = (Index("ix_weak_identifiers_person", "tenant_id", "oneid"),)

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    oneid: Mapped[str] = mapped_column(String(26), primary_key=True)


class IdentityChange(TenantScoped, Base):
    """Merge history: each merge with the identifier and record that caused it; splits."""

    __tablename__ = "identity_changes"
    __table_args__ = (
        Index("ix_identity_changes_kept", "tenant_id", "kept_oneid"),
        Index("ix_identity_changes_retired", "tenant_id", "retired_oneid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # merge | detach | split
    kept_oneid: Mapped[str] = mapped_column(String(26))
    retired_oneid: Mapped[str | None] = mapped_column(String(26), nullable=True)
    id_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    id_value: Mapped[str | None] = mapped_column(String(256), nullable=True)
    link_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BlockedMerge(TenantScoped, Base):
    """A merge a guard refused: kept apart, listed for review (status open) until a
    reviewer approves it (merged through an `approved` key on both records) or dismisses
    it (kept apart by a cannot-link); reviewed rows stay for audit."""

    __tablename__ = "blocked_merges"
    __table_args__ = (
        Index("ix_blocked_merges_link", "tenant_id", "link_seq"),
        Index("ix_blocked_merges_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_seq: Mapped[int] = mapped_column(BigInteger)  # the record that would have merged
    oneid: Mapped[str] = mapped_column(String(26))  # its person at the time
    other_oneid: Mapped[str] = mapped_column(String(26))  # the person it was kept from
    id_type: Mapped[str] = mapped_column(String(32))
    id_value: Mapped[str] = mapped_column(String(256))
    guard: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # approved | dismissed
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The other person's record the decision joins to (or keeps apart from) the record.
    other_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class CannotLink(TenantScoped, Base):
    """A manual split: these two records must never be in one person again."""

    __tablename__ = "cannot_links"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq_a: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq_b: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class IdentityRebuild(TenantScoped, Base):
    """One batch rebuild (`siyu identity rebuild`): what it found and changed."""

    __tablename__ = "identity_rebuilds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    engine: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    persons: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[int] = mapped_column(Integer, default=0)
    split: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    moved_records: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    replayed_records: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
