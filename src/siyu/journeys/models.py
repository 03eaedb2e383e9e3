"""Journey tables: definitions and their versions, enrolments (the durable state and
timers), per-enrolment trace, trigger bookkeeping and the dead-letter list."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class Journey(TenantScoped, Base):
    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, live, paused
    live_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JourneyVersion(TenantScoped, Base):
    """An immutable definition: people in flight finish on the version they entered."""

    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Enrolment(TenantScoped, Base):
    """One person in one journey version. `due_at` is the timer: the worker picks rows
    whose time has come (NULL once finished); `lease_*` mark a worker's claim."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "journey_id", "dedupe_key"),
        Index("ix_journey_enrolments_due", "due_at"),
        Index("ix_journey_enrolments_person", "tenant_id", "oneid"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    oneid: Mapped[str] = mapped_column(String(26))
    # active (runs `step` at due_at), waiting (for an event; due_at = timeout),
    # holdout (control group; due_at = end of the goal window), then
    # completed, exited, converted (exited on goal), failed (dead-lettered).
    status: Mapped[str] = mapped_column(String(16), default="active")
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    step_count: Mapped[int] = mapped_column(Integer, default=0)  # steps run: message keys
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    wait_event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    arm: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dedupe_key: Mapped[str] = mapped_column(String(160))  # what enrolled them, once
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    goal_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    goal_value: Mapped[Decimal | None] = mapped_column(Money, nullable=True)


class TraceRow(TenantScoped, Base):
    """What happened to an enrolment: the steps one worker pass (or one arriving event)
    ran, each as {"step", "at", "result", "detail"}. One row per pass, not per step:
    a million enrolments through three steps write a million rows, not three."""

    __tablename__ = "journey_trace"
    __table_args__ = (Index("ix_journey_trace_enrolment", "enrolment_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(_Id)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class TriggerState(TenantScoped, Base):
    """A time- or poll-driven trigger of a live journey: when it next runs, and where the
    audience change feed was read up to. Claimed with a lease like enrolments."""

    __tablename__ = "journey_triggers"
    __table_args__ = (UniqueConstraint("journey_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cursor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeadLetter(TenantScoped, Base):
    """Work that kept failing after its retries; kept for people to inspect and retry."""

    __tablename__ = "journey_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(_Id, index=True)
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
