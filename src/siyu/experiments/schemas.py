"""Experiment contracts: metric specs, report options, the report, import results."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from siyu.experiments.stats import BinaryTest, Bounds, Interval

Correction = Literal["none", "holm"]


class MetricKind(StrEnum):
    BINARY = "binary"  # 0/1 per unit: visit, conversion
    CONTINUOUS = "continuous"  # a number per unit: spend, revenue per person


class MetricSpec(BaseModel):
    name: str = Field(min_length=1)
    # None: decided at import, binary when every value is 0 or 1.
    kind: MetricKind | None = None


def parse_metrics(text: str) -> list[MetricSpec]:
    """`"visit,conversion:binary,spend:continuous"` → metric specs (kind optional)."""
    specs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, kind = part.partition(":")
        if kind and kind.strip() not in set(MetricKind):
            raise ValueError(f"metric {part!r}: the kind is binary or continuous")
        specs.append(MetricSpec(name=name.strip(), kind=MetricKind(kind.strip()) if kind else None))
    return specs


class ReportOptions(BaseModel):
    """How the report is computed (defaults: 95 %, Newcombe CI, z-test, no correction)."""

    confidence: float = Field(default=0.95, gt=0, lt=1)
    interval: Interval = "newcombe"  # CI of a difference in proportions
    binary_test: BinaryTest = "z"  # p-value of a difference in proportions
    correction: Correction = "none"  # of p-values across the arms, per metric


class MetricSummary(BaseModel):
    """One metric in one arm."""

    n: int
    mean: float | None
    std: float | None  # sample standard deviation (n − 1)
    total: float  # the sum; for a binary metric, the number of units with 1


class Lift(BaseModel):
    """One metric of one arm against the control."""

    test: str  # "z", "chi2", "fisher" or "welch"
    difference: float | None  # treatment − control (proportion points, or metric units)
    difference_ci: Bounds | None
    relative_lift: float | None  # (treatment − control) / control
    relative_lift_ci: Bounds | None  # delta method
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None  # Holm, when asked for; otherwise equal to p_value
    significant: bool | None  # adjusted p-value below 1 − confidence


class ArmResult(BaseModel):
    arm: str
    is_control: bool
    units: int
    metrics: dict[str, MetricSummary]
    vs_control: dict[str, Lift]  # empty for the control arm


class ExperimentReport(BaseModel):
    experiment: str
    control: str
    metrics: list[MetricSpec]
    options: ReportOptions
    arms: list[ArmResult]  # control first, then the others by name


class RejectedRow(BaseModel):
    line: int
    field: str
    reason: str
    raw: str  # the row as received


class ImportResult(BaseModel):
    experiment: str
    units: int
    arms: dict[str, int]  # units per arm
    metrics: list[MetricSpec]  # with the kinds decided at import
    rejected: int
    first_rejects: list[RejectedRow]  # all are kept in the store
    seconds: float


class ExperimentSummary(BaseModel):
    name: str
    control: str
    metrics: list[MetricSpec]
    units: int
    rejected: int
    origin: str
    created_at: datetime


# -- journeys: their A/B/holdout arms and per-step funnel ----------------------------------


class Stage(StrEnum):
    """How far a person got at one step; each stage implies the ones before it."""

    ENTERED = "entered"
    SENT = "sent"
    DELIVERED = "delivered"
    CLICKED = "clicked"


class PersonOutcome(BaseModel):
    """One person enrolled in a journey, as journeys reads it from its enrolments."""

    arm: str = Field(min_length=1)  # e.g. "A", "B", "holdout"
    steps: dict[str, Stage] = Field(default_factory=dict)  # step id → furthest stage reached
    converted: bool = False  # reached the journey's goal
    revenue: Decimal = Field(default=Decimal(0), allow_inf_nan=False)  # attributed, in yuan


class StepArmCounts(BaseModel):
    """One step of the funnel for one arm: persons per stage, and what they went on to do."""

    arm: str
    entered: int = 0
    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    converted: int = 0  # persons who reached this step and converted
    revenue: Decimal = Decimal(0)  # their revenue


class FunnelStep(BaseModel):
    step: str
    arms: list[StepArmCounts]


class JourneyReport(BaseModel):
    journey: str
    funnel: list[FunnelStep]  # steps in the journey's order
    results: ExperimentReport  # metrics "conversion" (binary) and "revenue" (per person)
