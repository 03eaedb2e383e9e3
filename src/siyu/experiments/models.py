"""Experiments as stored: the experiment, its arms, per-unit outcomes and rejected rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class Experiment(TenantScoped, Base):
    """A randomised test: which arm is the control and which metrics were measured."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    control_arm: Mapped[str] = mapped_column(String(128))
    # [{"name": "visit", "kind": "binary"}, ...]; an outcome's `metric` is its index here.
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(512))  # the imported file
    units: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExperimentArm(TenantScoped, Base):
    __tablename__ = "experiment_arms"
    __table_args__ = (UniqueConstraint("experiment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    units: Mapped[int] = mapped_column(Integer, default=0)


class ExperimentOutcome(TenantScoped, Base):
    """One metric's value for one unit (long format: metrics vary per experiment)."""

    __tablename__ = "experiment_outcomes"
    # The report groups by (metric, arm) within one experiment; the index covers it.
    __table_args__ = (
        Index("ix_experiment_outcomes_report", "experiment_id", "metric", "arm_id", "value"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(Integer)
    arm_id: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)  # the unit: its line in the imported file
    metric: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[float] = mapped_column(Double)


class ExperimentReject(TenantScoped, Base):
    """A row that could not be used, kept as received with the field and the reason."""

    __tablename__ = "experiment_rejects"
    __table_args__ = (Index("ix_experiment_rejects_experiment", "experiment_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
