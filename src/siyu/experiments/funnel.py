"""A journey's results: its per-step funnel and its arms' totals, in one pass over persons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from siyu.experiments.report import ArmData
from siyu.experiments.schemas import (
    FunnelStep,
    MetricKind,
    MetricSpec,
    PersonOutcome,
    Stage,
    StepArmCounts,
)
from siyu.experiments.stats import Sample, binary_sample

CONVERSION = MetricSpec(name="conversion", kind=MetricKind.BINARY)
REVENUE = MetricSpec(name="revenue", kind=MetricKind.CONTINUOUS)
JOURNEY_METRICS = [CONVERSION, REVENUE]
_DEPTH = {stage: depth for depth, stage in enumerate(Stage)}  # entered 0 … clicked 3


@dataclass
class _Arm:
    persons: int = 0
    converted: int = 0
    # Exact sums (Decimal): the variance of revenue comes from them without cancellation.
    revenue: Decimal = Decimal(0)
    revenue_squares: Decimal = Decimal(0)
    # step → [entered, sent, delivered, clicked, converted], revenue of those who reached it
    steps: dict[str, list[int]] = field(default_factory=dict)
    step_revenue: dict[str, Decimal] = field(default_factory=dict)

    def revenue_sample(self) -> Sample:
        if not self.persons:
            return Sample(n=0, total=0.0, m2=0.0)
        m2 = self.revenue_squares - self.revenue * self.revenue / self.persons
        return Sample(n=self.persons, total=float(self.revenue), m2=max(0.0, float(m2)))


def summarise_journey(
    *, persons: Iterable[PersonOutcome], steps: Sequence[str], control: str
) -> tuple[list[ArmData], list[FunnelStep]]:
    """Per-arm sufficient statistics of conversion and revenue, and the per-step funnel."""
    arms: dict[str, _Arm] = {}
    order = dict.fromkeys(steps)  # the journey's step order, then steps first seen in data
    for person in persons:
        arm = arms.setdefault(person.arm, _Arm())
        arm.persons += 1
        arm.converted += person.converted
        arm.revenue += person.revenue
        arm.revenue_squares += person.revenue * person.revenue
        for step, stage in person.steps.items():
            order.setdefault(step)
            counts = arm.steps.setdefault(step, [0, 0, 0, 0, 0])
            for depth in range(_DEPTH[stage] + 1):
                counts[depth] += 1
            counts[4] += person.converted
            arm.step_revenue[step] = arm.step_revenue.get(step, Decimal(0)) + person.revenue
    names = sorted(arms, key=lambda name: (name != control, name))
    data = [
        ArmData(
            name=name,
            units=arms[name].persons,
            samples={
                CONVERSION.name: binary_sample(
                    n=arms[name].persons, successes=arms[name].converted
                ),
                REVENUE.name: arms[name].revenue_sample(),
            },
        )
        for name in names
    ]
    funnel = [
        FunnelStep(step=step, arms=[_step_counts(name, arms[name], step) for name in names])
        for step in order
    ]
    return data, funnel


def _step_counts(name: str, arm: _Arm, step: str) -> StepArmCounts:
    entered, sent, delivered, clicked, converted = arm.steps.get(step, [0, 0, 0, 0, 0])
    return StepArmCounts(
        arm=name,
        entered=entered,
        sent=sent,
        delivered=delivered,
        clicked=clicked,
        converted=converted,
        revenue=arm.step_revenue.get(step, Decimal(0)),
    )
