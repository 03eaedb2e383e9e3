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
    # [{"name": "visit", "kind": "binary"}, ...]; metric i is column m{i} of its units.
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Per metric, the mean over all units: the report sums squared deviations from it in
    # one pass without the cancellation of a plain sum of squares.
    centres: Mapped[list[float]] = mapped_column(JSON, default=list)
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


class ExperimentUnit(TenantScoped, Base):
    """One randomised unit: its arm and its metric values (wide: one row per unit).

    Metric i of the experiment is column `m{i}`. One row per unit instead of one per value
    writes and scans a third of the rows for a three-metric test (see decisions).
    """

    __tablename__ = "experiment_units"
    __table_args__ = (Index("ix_experiment_units_experiment", "tenant_id", "experiment_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(Integer)
    arm_id: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)  # where the unit was in the imported file
    m0: Mapped[float | None] = mapped_column(Double, nullable=True)
    m1: Mapped[float | None] = mapped_column(Double, nullable=True)
    m2: Mapped[float | None] = mapped_column(Double, nullable=True)
    m3: Mapped[float | None] = mapped_column(Double, nullable=True)
    m4: Mapped[float | None] = mapped_column(Double, nullable=True)
    m5: Mapped[float | None] = mapped_column(Double, nullable=True)
    m6: Mapped[float | None] = mapped_column(Double, nullable=True)
    m7: Mapped[float | None] = mapped_column(Double, nullable=True)


METRIC_SLOTS = 8  # the m0 … m7 columns above


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
