"""The report: every arm against the control, per metric, from per-arm sufficient statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from siyu.experiments.schemas import (
    ArmResult,
    ExperimentReport,
    Lift,
    MetricKind,
    MetricSpec,
    MetricSummary,
    ReportOptions,
)
from siyu.experiments.stats import (
    Comparison,
    Sample,
    binary_sample,
    compare_means,
    compare_proportions,
    holm,
)


class ExperimentError(Exception):
    """An experiment that cannot be imported or reported, with the reason."""


@dataclass(frozen=True)
class ArmData:
    """What the report needs of one arm: its size and each metric's sufficient statistics."""

    name: str
    units: int
    samples: dict[str, Sample]


def build_report(
    *,
    experiment: str,
    control: str,
    metrics: Sequence[MetricSpec],
    arms: Sequence[ArmData],
    options: ReportOptions,
) -> ExperimentReport:
    """Compare each arm with the control on each metric (Holm across arms if asked)."""
    by_name = {arm.name: arm for arm in arms}
    if control not in by_name:
        known = ", ".join(sorted(by_name)) or "none"
        raise ExperimentError(f"control arm {control!r} not found (arms: {known})")
    treatments = sorted(name for name in by_name if name != control)
    lifts: dict[str, dict[str, Lift]] = {name: {} for name in treatments}
    for metric in metrics:
        found = [_compare(metric, by_name[control], by_name[name], options) for name in treatments]
        raw = [comparison.p_value for comparison in found]
        adjusted = holm(raw) if options.correction == "holm" else raw
        for name, comparison, p_adjusted in zip(treatments, found, adjusted, strict=True):
            lifts[name][metric.name] = _lift(metric, comparison, p_adjusted, options)
    results = [_arm_result(by_name[control], metrics, True, {})]
    results += [_arm_result(by_name[name], metrics, False, lifts[name]) for name in treatments]
    return ExperimentReport(
        experiment=experiment,
        control=control,
        metrics=list(metrics),
        options=options,
        arms=results,
    )


def _compare(
    metric: MetricSpec, control: ArmData, treatment: ArmData, options: ReportOptions
) -> Comparison:
    empty = Sample(n=0, total=0.0, m2=0.0)
    c = control.samples.get(metric.name, empty)
    t = treatment.samples.get(metric.name, empty)
    if metric.kind is MetricKind.BINARY:
        return compare_proportions(
            c,
            t,
            confidence=options.confidence,
            interval=options.interval,
            test=options.binary_test,
        )
    return compare_means(c, t, confidence=options.confidence)


def _lift(
    metric: MetricSpec, found: Comparison, p_adjusted: float | None, options: ReportOptions
) -> Lift:
    return Lift(
        test=options.binary_test if metric.kind is MetricKind.BINARY else "welch",
        difference=found.difference,
        difference_ci=found.difference_ci,
        relative_lift=found.relative_lift,
        relative_lift_ci=found.relative_lift_ci,
        statistic=found.statistic,
        p_value=found.p_value,
        p_value_adjusted=p_adjusted,
        significant=None if p_adjusted is None else p_adjusted < 1 - options.confidence,
    )


def _arm_result(
    arm: ArmData, metrics: Sequence[MetricSpec], is_control: bool, lifts: dict[str, Lift]
) -> ArmResult:
    summaries = {}
    for metric in metrics:
        sample = arm.samples.get(metric.name, Sample(n=0, total=0.0, m2=0.0))
        if metric.kind is MetricKind.BINARY:  # counts, not float sums, for 0/1 metrics
            sample = binary_sample(n=sample.n, successes=sample.successes)
        summaries[metric.name] = MetricSummary(
            n=sample.n,
            mean=_finite(sample.mean),
            std=_finite(math.sqrt(sample.variance)) if sample.n > 1 else None,
            total=sample.total,
        )
    return ArmResult(
        arm=arm.name, is_control=is_control, units=arm.units, metrics=summaries, vs_control=lifts
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
