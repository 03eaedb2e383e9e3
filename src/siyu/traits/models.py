"""Trait tables: one row of computed traits per person, and the history of compute runs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime, utcnow


class PersonTraits(TenantScoped, Base):
    """A person's traits. Purchase traits are kept fresh online; the rest by `siyu compute`."""

    __tablename__ = "person_traits"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oneid: Mapped[str] = mapped_column(String(26), primary_key=True)
    first_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Dates in the tenant's zone: recency and lifecycle windows count calendar days.
    first_order_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_order_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    net_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    aov: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    avg_interval_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    favourite_source: Mapped[str | None] = mapped_column(String(32), nullable=True)
    favourite_category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    favourite_store: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_member: Mapped[bool] = mapped_column(Boolean, default=False)
    rfm_r: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    rfm_f: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    rfm_m: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="prospect")
    # When a batch run last wrote this row (None: only the online refresh has so far).
    computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TraitRun(TenantScoped, Base):
    """One `siyu compute` run; the last finished one's watermark drives incremental runs."""

    __tablename__ = "trait_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    engine: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental
    as_of: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    # Records stored and identity changes made after this time were not seen by the run.
    watermark: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    persons: Mapped[int] = mapped_column(Integer, default=0)
    recomputed: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
