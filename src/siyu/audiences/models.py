"""Audience tables: definitions, membership intervals (entry/exit history), refresh runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class Audience(TenantScoped, Base):
    """An audience (人群): the persons its rule selects, kept as membership intervals."""

    __tablename__ = "audiences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(512), nullable=True)
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Re-evaluate persons as their records arrive (audiences.on_records).
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    # Refresh in batch when this many minutes have passed (run-due); None: when asked.
    refresh_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AudienceMembership(TenantScoped, Base):
    """One period a person was in an audience; open (current) while `exited_at` is null.

    `entered_by` / `exited_by`: "refresh" (batch), "online" (a record arrived), "merge"
    (the OneID was merged into another), "rule" (the rule changed is a refresh too).
    """

    __tablename__ = "audience_memberships"
    __table_args__ = (
        Index(
            "uq_audience_memberships_open",
            "tenant_id",
            "audience_id",
            "oneid",
            unique=True,
            sqlite_where=text("exited_at IS NULL"),
            postgresql_where=text("exited_at IS NULL"),
        ),
        Index("ix_audience_memberships_entered", "tenant_id", "entered_at"),
        Index("ix_audience_memberships_exited", "tenant_id", "exited_at"),
        Index("ix_audience_memberships_person", "tenant_id", "oneid"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    audience_id: Mapped[int] = mapped_column(Integer)
    oneid: Mapped[str] = mapped_column(String(26))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    entered_by: Mapped[str] = mapped_column(String(16))
    exited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    exited_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AudienceRun(TenantScoped, Base):
    """One batch refresh of one audience: its size over time."""

    __tablename__ = "audience_runs"
    __table_args__ = (Index("ix_audience_runs_audience", "tenant_id", "audience_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audience_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    as_of: Mapped[date] = mapped_column(Date)
    engine: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    entered: Mapped[int] = mapped_column(Integer)
    exited: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
